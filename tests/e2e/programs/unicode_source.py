# -*- coding: utf-8 -*-
# Non-ASCII source: identifiers, strings and comments in UTF-8.
@profile
def größe():
    # Größe der Daten — ελληνικά, 日本語, emoji ☕
    données = [0] * (5 * 10**6)
    café = "naïve façade ☕ — Ωμέγα"
    ñ = len(café) + len(données)
    del données
    return ñ  # ¡listo!


if __name__ == '__main__':
    größe()
