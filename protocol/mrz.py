"""Machine-readable zones of travel documents (ICAO Doc 9303 parts 3-6): TD1 (3 x 30), TD2 (2 x 36)
and TD3 (2 x 44) read into fields, every check digit verified. Pure: no I/O, no clock reads.

A zone with faults raises one `MrzError` that names each fault (field, reason code, what is wrong),
so that a border officer sees every bad check digit at once. docs/person-alerts.md explains it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from protocol.errors import FieldProblem, ProtocolError

# Layouts (line count, line length) -> format name; Doc 9303 part 4 (TD3), 5 (TD1), 6 (TD2).
LAYOUTS = {(3, 30): "TD1", (2, 36): "TD2", (2, 44): "TD3"}
MAX_INPUT_CHARS = 200  # the longest zone is 90 characters; anything far longer is not a zone
SEXES = {"M": "M", "F": "F", "X": "X", "<": "X"}  # '<' is 'unspecified' (X in the VIZ)

_WEIGHTS = (7, 3, 1)
_ZONE_CHARS = re.compile(r"[A-Z0-9<]*")
_OTHER = re.compile(r"[^A-Z0-9<]")
_CODE = re.compile(r"[A-Z][A-Z<]")
_STATE = re.compile(r"[A-Z][A-Z<]{2}")
_NAME = re.compile(r"[A-Z<]*")
_DIGIT_OR_FILLER = re.compile(r"[0-9<]")


class MrzError(ProtocolError):
    """A zone that cannot be trusted. `problems` lists every fault found, in zone order.

    `reason` is the first problem's code when there is one kind of fault, else `bad_mrz`.
    """

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        kinds = {p.reason for p in self.problems}
        reason = self.problems[0].reason if len(kinds) == 1 else "bad_mrz"
        super().__init__(reason, "; ".join(f"{p.field}: {p.detail}" for p in self.problems))


@dataclass(frozen=True, slots=True)
class MrzDate:
    """A YYMMDD field as printed. `None` parts were unknown ('<' fillers, Doc 9303 part 3 4.7)."""

    yy: int | None
    month: int | None
    day: int | None

    def partial(self, reference_year: int, *, future: bool = False) -> str | None:
        """ISO text at the precision known ('1974-08-12', '1974-08', '1974'), the century chosen
        against `reference_year` (the caller's current year): a birth date is never in the
        future; an expiry (`future=True`) lies at most 50 years after the reference year."""
        if self.yy is None:
            return None
        century = reference_year // 100 * 100
        year = century + self.yy
        if not future and year > reference_year:
            year -= 100
        if future and year > reference_year + 50:
            year -= 100
        text = f"{year:04d}"
        if self.month is None:
            return text
        text += f"-{self.month:02d}"
        return text if self.day is None else f"{text}-{self.day:02d}"


@dataclass(frozen=True, slots=True)
class Mrz:
    """A verified zone. Strings are as printed with fillers removed; names are split into the
    primary identifier (family name) and the secondary identifier's parts (given names)."""

    format: str  # TD1 | TD2 | TD3
    document_code: str  # 'P', 'I', 'ID', 'AC' ... (fillers removed)
    issuing_state: str  # alpha-3, or the state's code as printed ('D' for Germany)
    document_number: str  # the whole number, also when it overflowed into the optional data
    nationality: str
    birth_date: MrzDate
    sex: str  # M | F | X
    expiry_date: MrzDate
    primary_identifier: str  # 'ERIKSSON'; name parts joined with one space
    secondary_identifier: tuple[str, ...]  # ('ANNA', 'MARIA')
    optional_data: tuple[str, ...]  # TD1: two fields; TD2: one; TD3: the personal number
    lines: tuple[str, ...]


def check_digit(text: str) -> str:
    """Doc 9303 part 3 4.9: digits count as themselves, A-Z as 10-35, '<' as 0; weights 7, 3, 1
    repeated; the sum modulo 10."""
    total = 0
    for i, char in enumerate(text):
        if char.isdigit():
            value = ord(char) - 48
        elif "A" <= char <= "Z":
            value = ord(char) - 55
        else:
            value = 0
        total += value * _WEIGHTS[i % 3]
    return str(total % 10)


def split_lines(text: str | Sequence[str]) -> tuple[str, ...]:
    """The zone's lines: surrounding blanks and blank lines dropped, upper-cased; a zone pasted on
    one line of 90, 72 or 88 characters is cut into its lines."""
    raw = text.splitlines() if isinstance(text, str) else list(text)
    lines = tuple("".join(line.split()).upper() for line in raw if isinstance(line, str) and line.strip())
    if len(lines) == 1:
        for (count, width) in LAYOUTS:
            if len(lines[0]) == count * width:
                return tuple(lines[0][i * width:(i + 1) * width] for i in range(count))
    return lines


def parse(text: str | Sequence[str]) -> Mrz:
    """Read and verify a zone; raise MrzError naming every fault."""
    if not isinstance(text, str) and not (isinstance(text, Sequence) and all(isinstance(x, str) for x in text)):
        raise MrzError([FieldProblem("$", "mrz_layout", "a zone is text, or a list of its lines")])
    if sum(len(line) for line in ([text] if isinstance(text, str) else text)) > MAX_INPUT_CHARS * 2:
        raise MrzError([FieldProblem("$", "mrz_layout", f"far longer than a zone ({MAX_INPUT_CHARS} characters)")])
    lines = split_lines(text)
    layout = LAYOUTS.get((len(lines), len(lines[0]) if lines else 0))
    if layout is None or any(len(line) != len(lines[0]) for line in lines):
        shape = " + ".join(str(len(line)) for line in lines) or "nothing"
        raise MrzError([FieldProblem("$", "mrz_layout",
                                   f"{len(lines)} line(s) of {shape} characters: a zone is 3 x 30 (TD1), "
                                   f"2 x 36 (TD2) or 2 x 44 (TD3)")])
    bad = [(n, line) for n, line in enumerate(lines, 1) if not _ZONE_CHARS.fullmatch(line)]
    if bad:
        raise MrzError([FieldProblem(f"line {n}", "mrz_bad_character",
                                   f"only A-Z, 0-9 and '<' may appear, not {sorted(set(_OTHER.findall(line)))}")
                        for n, line in bad])
    if lines[0][0] == "V":
        raise MrzError([FieldProblem("document_code", "mrz_layout",
                                   "a visa zone (MRV-A/MRV-B): not read here, read the passport's zone")])
    return _READERS[layout](lines)


# -- the three formats ----------------------------------------------------------------------------

class _Reader:
    """Collects faults while the fields are read, so that every one is reported."""

    def __init__(self, lines: tuple[str, ...]) -> None:
        self.lines = lines
        self.problems: list[FieldProblem] = []

    def fault(self, field: str, reason: str, detail: str) -> None:
        self.problems.append(FieldProblem(field, reason, detail))

    def verify(self, field: str, data: str, digit: str, *, filler_allowed: bool = False) -> None:
        if filler_allowed and digit == "<" and data.strip("<") == "":
            return
        if not digit.isdigit():
            self.fault(field, "mrz_check_digit", f"check digit {digit!r} is not a digit")
        elif check_digit(data) != digit:
            self.fault(field, "mrz_check_digit", f"check digit is {digit}, the data gives {check_digit(data)}")

    def code(self, text: str) -> str:
        if not _CODE.fullmatch(text):
            self.fault("document_code", "mrz_bad_field", f"{text!r} is not a document code")
        return text.strip("<")

    def state(self, field: str, text: str) -> str:
        if not _STATE.fullmatch(text):
            self.fault(field, "mrz_bad_field", f"{text!r} is not a state code")
        return text.strip("<")

    def date(self, field: str, text: str) -> MrzDate:
        if not all(_DIGIT_OR_FILLER.fullmatch(c) for c in text):
            self.fault(field, "mrz_bad_date", f"{text!r}: YYMMDD digits, '<' where unknown")
            return MrzDate(None, None, None)
        parts = [None if "<" in text[i:i + 2] else int(text[i:i + 2]) for i in (0, 2, 4)]
        yy, month, day = parts
        if (yy is None and (month, day) != (None, None)) or (month is None and day is not None):
            self.fault(field, "mrz_bad_date", f"{text!r}: only the trailing parts may be unknown")
        elif month is not None and not 1 <= month <= 12:
            self.fault(field, "mrz_bad_date", f"{text!r}: month {month:02d}")
        elif day is not None and not 1 <= day <= _days_in(yy, month):
            self.fault(field, "mrz_bad_date", f"{text!r}: day {day:02d}")
        return MrzDate(yy, month, day)

    def sex(self, text: str) -> str:
        if text not in SEXES:
            self.fault("sex", "mrz_bad_field", f"{text!r}: M, F, X or '<'")
            return "X"
        return SEXES[text]

    def name(self, text: str) -> tuple[str, tuple[str, ...]]:
        if not _NAME.fullmatch(text) or text.startswith("<"):
            self.fault("name", "mrz_bad_field", "the name zone starts with the primary identifier, A-Z and '<' only")
        primary, _, secondary = text.rstrip("<").partition("<<")
        primary_text = " ".join(p for p in primary.split("<") if p)
        given = tuple(p for p in secondary.split("<") if p)
        return primary_text, given

    def document_number(self, number: str, digit: str, optional: str, field: str = "document_number"
                        ) -> tuple[str, str]:
        """(the whole number, the optional data left). A number longer than 9 characters puts '<'
        in the check digit's place and continues in the optional data, its check digit after its
        last character (Doc 9303 part 5 4.2.2 note j, part 6 4.2.2 note j)."""
        if digit == "<" and number.strip("<"):
            rest = optional.split("<", 1)[0]
            if len(rest) < 2:
                self.fault(field, "mrz_bad_field",
                           "'<' in the check digit's place, but no overflow of the number in the optional data")
                return number.strip("<"), optional
            whole = number + rest[:-1]
            self.verify(field, whole, rest[-1])
            return whole, optional[len(rest):]
        if not number.strip("<"):
            self.fault(field, "mrz_bad_field", "no document number")
        self.verify(field, number, digit)
        return number.rstrip("<"), optional

    def done(self, **fields: object) -> Mrz:
        if self.problems:
            raise MrzError(self.problems)
        return Mrz(lines=self.lines, **fields)  # type: ignore[arg-type]


def _days_in(yy: int | None, month: int) -> int:
    if month == 2:
        return 29 if yy is None or yy % 4 == 0 else 28  # 00 may be 2000 (leap) or 1900: allow it
    return 30 if month in (4, 6, 9, 11) else 31


def _td1(lines: tuple[str, ...]) -> Mrz:
    one, two, three = lines
    r = _Reader(lines)
    code = r.code(one[0:2])
    state = r.state("issuing_state", one[2:5])
    number, optional_1 = r.document_number(one[5:14], one[14], one[15:30])
    birth = r.date("birth_date", two[0:6])
    r.verify("birth_date", two[0:6], two[6])
    sex = r.sex(two[7])
    expiry = r.date("expiry_date", two[8:14])
    r.verify("expiry_date", two[8:14], two[14])
    nationality = r.state("nationality", two[15:18])
    r.verify("composite", one[5:30] + two[0:7] + two[8:15] + two[18:29], two[29])
    primary, secondary = r.name(three)
    return r.done(format="TD1", document_code=code, issuing_state=state, document_number=number,
                  nationality=nationality, birth_date=birth, sex=sex, expiry_date=expiry,
                  primary_identifier=primary, secondary_identifier=secondary,
                  optional_data=(optional_1.strip("<"), two[18:29].strip("<")))


def _td2_td3(lines: tuple[str, ...], layout: str) -> Mrz:
    one, two = lines
    r = _Reader(lines)
    width = len(two)
    code = r.code(one[0:2])
    state = r.state("issuing_state", one[2:5])
    primary, secondary = r.name(one[5:])
    optional = two[28:width - 1]
    if layout == "TD3":  # a passport's number has no overflow; its personal number has a check digit
        number = two[0:9].rstrip("<")
        if not number:
            r.fault("document_number", "mrz_bad_field", "no document number")
        r.verify("document_number", two[0:9], two[9])
        personal = two[28:42]
        r.verify("personal_number", personal, two[42], filler_allowed=True)
        optional = personal
    else:
        number, optional = r.document_number(two[0:9], two[9], optional)
    nationality = r.state("nationality", two[10:13])
    birth = r.date("birth_date", two[13:19])
    r.verify("birth_date", two[13:19], two[19])
    sex = r.sex(two[20])
    expiry = r.date("expiry_date", two[21:27])
    r.verify("expiry_date", two[21:27], two[27])
    r.verify("composite", two[0:10] + two[13:20] + two[21:width - 1], two[width - 1])
    return r.done(format=layout, document_code=code, issuing_state=state, document_number=number,
                  nationality=nationality, birth_date=birth, sex=sex, expiry_date=expiry,
                  primary_identifier=primary, secondary_identifier=secondary,
                  optional_data=(optional.strip("<"),))


_READERS = {"TD1": _td1, "TD2": lambda lines: _td2_td3(lines, "TD2"), "TD3": lambda lines: _td2_td3(lines, "TD3")}
