"""What a Chinese licence plate may say, and one canonical spelling for it.

Everything downstream (trajectories, cloned-plate alerts) keys on the plate string, so
two reads of one plate must compare equal: separators, case, full-width forms and the
letters I/O (never issued, always a misread 1/0) are folded here, and any string that is
not a plausible mainland plate is refused rather than passed on.
"""

from __future__ import annotations

import re
import unicodedata

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
"""The 31 province abbreviations that open a mainland plate."""
SPECIALS = "警学挂港澳领使"
"""Suffix (or, for 使, prefix) characters of police, coach, trailer, HK/Macau, consulate
and embassy plates."""
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
"""Latin letters used on plates: I and O are never issued."""
DIGITS = "0123456789"
ALPHABET = PROVINCES + SPECIALS + LETTERS + DIGITS
"""Every character a plate reader may output (the reader's alphabet, in this order)."""

_ALNUM = f"[{LETTERS}{DIGITS}]"
_NEW_ENERGY_MARK = "[DABCEFGHJK]"
_PATTERNS = [
    # ordinary 7-character plates: blue, yellow, black (incl. consular/HK/Macau suffixes)
    re.compile(f"^[{PROVINCES}][{LETTERS}]{_ALNUM}{{5}}$"),
    re.compile(f"^[{PROVINCES}][{LETTERS}]{_ALNUM}{{4}}[警学挂领]$"),
    re.compile(f"^粤Z{_ALNUM}{{4}}[港澳]$"),
    # new-energy (green) 8-character plates: small cars mark position 3, large ones position 8
    re.compile(f"^[{PROVINCES}][{LETTERS}]{_NEW_ENERGY_MARK}{_ALNUM}[{DIGITS}]{{4}}$"),
    re.compile(f"^[{PROVINCES}][{LETTERS}][{DIGITS}]{{5}}{_NEW_ENERGY_MARK}$"),
    # embassy plates: 使 + 6 digits
    re.compile(f"^使[{DIGITS}]{{6}}$"),
]

# Unambiguous pinyin names of the provinces, so that a plate typed on a Latin keyboard
# ("hei a 12345") still finds its record; jin (津/晋), yu (豫/渝), ji (冀/吉) and gan (赣/甘)
# are ambiguous and refused.
_PINYIN = {
    "jing": "京", "hu": "沪", "yun": "云", "liao": "辽", "hei": "黑", "xiang": "湘",
    "wan": "皖", "lu": "鲁", "xin": "新", "su": "苏", "zhe": "浙", "e": "鄂", "gui": "桂",
    "meng": "蒙", "shan": "陕", "min": "闽", "qian": "贵", "yue": "粤", "qing": "青",
    "zang": "藏", "chuan": "川", "ning": "宁", "qiong": "琼",
}
_PINYIN_RE = re.compile(r"^([a-z]+)\s+(.*)$")
_SEPARATORS = re.compile(r"[\s·•.\-_:]+")
_LOOKALIKES = str.maketrans({"O": "0", "I": "1"})


def normalize_plate(text: str) -> str | None:
    """Canonical form of a plate ('黑A·12345' -> '黑A12345'), or None when it is not one."""
    if not isinstance(text, str):
        return None
    raw = unicodedata.normalize("NFKC", text).strip()
    pinyin = _PINYIN_RE.match(raw.lower())
    if pinyin and pinyin.group(1) in _PINYIN:
        raw = _PINYIN[pinyin.group(1)] + pinyin.group(2)
    compact = _SEPARATORS.sub("", raw).upper()
    if not compact:
        return None
    # I/O are never issued: a read of them is a misread 1/0 (not in the province position)
    compact = compact[0] + compact[1:2] + compact[2:].translate(_LOOKALIKES)
    return compact if is_valid_plate(compact) else None


def is_valid_plate(text: str) -> bool:
    """True when `text` (already canonical) matches one of the plate grammars."""
    return any(pattern.match(text) for pattern in _PATTERNS)


def display_plate(text: str) -> str:
    """How a plate is shown to people: the issuing prefix, a middle dot, then the serial."""
    plate = normalize_plate(text) or text
    if plate.startswith("使"):
        return plate
    return f"{plate[:2]}·{plate[2:]}"
