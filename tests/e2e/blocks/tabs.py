def tabs():
	x = 1
	if x:
		return x
	# tab comment
	return 0


def ff():
    y = 2
    return y


def last_no_newline():
    return 1
    # no newline after this