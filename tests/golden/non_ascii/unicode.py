# -*- coding: utf-8 -*-
@profile
def grüße():
    """Grüße, 世界 ✓"""
    text = "naïve café " * 100000   # 「コメント」
    return len(text)


grüße()
