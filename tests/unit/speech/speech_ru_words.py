"""A strict Russian words-to-number parser, written independently of the code under test.

It checks grammar as it parses: the gender of "один/одна", "два/две" (thousands are
feminine, millions and billions masculine, the final group agrees with the counted noun)
and the noun forms after each number (тысяча/тысячи/тысяч, рубль/рубля/рублей, ...).
"""

from __future__ import annotations

from decimal import Decimal

ONES = {
    "ноль": 0,
    "один": 1,
    "одна": 1,
    "одно": 1,
    "два": 2,
    "две": 2,
    "три": 3,
    "четыре": 4,
    "пять": 5,
    "шесть": 6,
    "семь": 7,
    "восемь": 8,
    "девять": 9,
}
TEENS = {
    "десять": 10,
    "одиннадцать": 11,
    "двенадцать": 12,
    "тринадцать": 13,
    "четырнадцать": 14,
    "пятнадцать": 15,
    "шестнадцать": 16,
    "семнадцать": 17,
    "восемнадцать": 18,
    "девятнадцать": 19,
}
TENS = {
    "двадцать": 20,
    "тридцать": 30,
    "сорок": 40,
    "пятьдесят": 50,
    "шестьдесят": 60,
    "семьдесят": 70,
    "восемьдесят": 80,
    "девяносто": 90,
}
HUNDREDS = {
    "сто": 100,
    "двести": 200,
    "триста": 300,
    "четыреста": 400,
    "пятьсот": 500,
    "шестьсот": 600,
    "семьсот": 700,
    "восемьсот": 800,
    "девятьсот": 900,
}
MASCULINE = {"один", "два"}
FEMININE = {"одна", "две"}
NEUTER = {"одно", "два"}

# scale word -> (value, gender of the group before it, (one, few, many))
SCALES = {
    "тысяча": (10**3, "f", ("тысяча", "тысячи", "тысяч")),
    "тысячи": (10**3, "f", ("тысяча", "тысячи", "тысяч")),
    "тысяч": (10**3, "f", ("тысяча", "тысячи", "тысяч")),
    "миллион": (10**6, "m", ("миллион", "миллиона", "миллионов")),
    "миллиона": (10**6, "m", ("миллион", "миллиона", "миллионов")),
    "миллионов": (10**6, "m", ("миллион", "миллиона", "миллионов")),
    "миллиард": (10**9, "m", ("миллиард", "миллиарда", "миллиардов")),
    "миллиарда": (10**9, "m", ("миллиард", "миллиарда", "миллиардов")),
    "миллиардов": (10**9, "m", ("миллиард", "миллиарда", "миллиардов")),
}


class ParseError(ValueError):
    pass


def agreeing(n: int, one: str, few: str, many: str) -> str:
    if n % 100 in (11, 12, 13, 14):
        return many
    if n % 10 == 1:
        return one
    if n % 10 in (2, 3, 4):
        return few
    return many


def _check_gender(word: str | None, gender: str) -> None:
    if word is None:
        return
    allowed = {"m": MASCULINE, "f": FEMININE, "n": NEUTER}[gender]
    if word in MASCULINE | FEMININE | NEUTER and word not in allowed:
        raise ParseError(f"{word!r} does not agree with gender {gender}")


def _group(words: list[str]) -> tuple[int, str | None]:
    """1..999 from its words; returns the value and the word for its last unit (1 or 2)."""
    value, stage, gendered = 0, 0, None  # stage: 0 start, 1 after hundreds, 2 after tens, 3 done
    for word in words:
        if word in HUNDREDS and stage == 0:
            value += HUNDREDS[word]
            stage = 1
        elif word in TENS and stage <= 1:
            value += TENS[word]
            stage = 2
        elif word in TEENS and stage <= 1:
            value += TEENS[word]
            stage = 3
        elif word in ONES and word != "ноль" and stage <= 2:
            value += ONES[word]
            stage = 3
            gendered = word if ONES[word] in (1, 2) else None
        else:
            raise ParseError(f"unexpected {word!r} in {' '.join(words)!r}")
    if value == 0:
        raise ParseError("empty group")
    return value, gendered


def words_to_int(words: list[str], gender: str = "m") -> int:
    """ "одна тысяча пятьсот" -> 1500, checking agreement; ``gender`` is the counted noun's."""
    if words == ["ноль"]:
        return 0
    if not words:
        raise ParseError("no number words")
    total = 0
    pending: list[str] = []
    last_scale: int | None = None
    for word in words:
        if word in SCALES:
            scale, scale_gender, forms = SCALES[word]
            if last_scale is not None and scale >= last_scale:
                raise ParseError("scales out of order")
            value, gendered = _group(pending)
            _check_gender(gendered, scale_gender)
            if word != agreeing(value, *forms):
                raise ParseError(f"{value} {word!r} does not agree")
            total += value * scale
            pending, last_scale = [], scale
        else:
            pending.append(word)
    if pending:
        value, gendered = _group(pending)
        _check_gender(gendered, gender)
        total += value
    return total


RUBLE_FORMS = ("рубль", "рубля", "рублей")
KOPECK_FORMS = ("копейка", "копейки", "копеек")


def parse_money(phrase: str) -> Decimal:
    """ "одна тысяча пятьсот рублей пятьдесят копеек" -> Decimal("1500.50"), strictly."""
    words = phrase.split()
    rubles = kopecks = 0
    ruble_at = next((i for i, w in enumerate(words) if w in RUBLE_FORMS), None)
    if ruble_at is not None:
        rubles = words_to_int(words[:ruble_at], "m")
        if words[ruble_at] != agreeing(rubles, *RUBLE_FORMS):
            raise ParseError(f"{rubles} {words[ruble_at]!r} does not agree")
        rest = words[ruble_at + 1 :]
        if rubles == 0 and rest:
            raise ParseError("'ноль рублей' followed by kopecks")
    else:
        rest = words
    if rest:
        if rest[-1] not in KOPECK_FORMS:
            raise ParseError(f"no kopeck word at the end of {phrase!r}")
        kopecks = words_to_int(rest[:-1], "f")
        if kopecks == 0:
            raise ParseError("'ноль копеек' is not said")
        if not 0 < kopecks < 100:
            raise ParseError(f"{kopecks} kopecks")
        if rest[-1] != agreeing(kopecks, *KOPECK_FORMS):
            raise ParseError(f"{kopecks} {rest[-1]!r} does not agree")
    elif ruble_at is None:
        raise ParseError(f"no currency words in {phrase!r}")
    return Decimal(rubles) + Decimal(kopecks) / 100
