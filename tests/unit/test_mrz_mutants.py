"""Issue 24 (mut24): protocol/mrz.py's boundaries and the words a border officer reads.

Every fault is asserted whole (field, reason code, detail) and every date and length boundary on
both sides, so that a weakened check or a garbled message is noticed. The zones are built here with
an independent check-digit computation (Doc 9303 part 3 4.9), so a test never trusts the code under
test to make its own input valid.
"""

from __future__ import annotations

import pytest

from protocol import mrz
from protocol.errors import FieldProblem


def _cd(text: str) -> str:
    values = {**{str(d): d for d in range(10)}, **{chr(65 + i): 10 + i for i in range(26)}, "<": 0}
    return str(sum(values[c] * (7, 3, 1)[i % 3] for i, c in enumerate(text)) % 10)


def td3(*, number: str = "L898902C3", digit: str | None = None, nationality: str = "UTO", dob: str = "740812",
        sex: str = "F", expiry: str = "120415", personal: str = "ZE184226B", personal_digit: str | None = None,
        name: str = "ERIKSSON<<ANNA<MARIA", code: str = "P<", state: str = "UTO") -> tuple[str, str]:
    number = number.ljust(9, "<")
    personal = personal.ljust(14, "<")
    two = (number + (_cd(number) if digit is None else digit) + nationality + dob + _cd(dob) + sex + expiry
           + _cd(expiry) + personal + (_cd(personal) if personal_digit is None else personal_digit))
    two += _cd(two[0:10] + two[13:20] + two[21:43])
    return (code + state + name).ljust(44, "<"), two


def td2(*, number: str = "D23145890", digit: str | None = None, optional: str = "", nationality: str = "UTO",
        dob: str = "740812", expiry: str = "120415", name: str = "ERIKSSON<<ANNA<MARIA") -> tuple[str, str]:
    number = number.ljust(9, "<")
    two = (number + (_cd(number) if digit is None else digit) + nationality + dob + _cd(dob) + "F" + expiry
           + _cd(expiry) + optional.ljust(7, "<"))
    two += _cd(two[0:10] + two[13:20] + two[21:35])
    return ("I<UTO" + name).ljust(36, "<"), two


def td1(*, code: str = "I<", state: str = "UTO", number: str = "D23145890", digit: str | None = None,
        optional_1: str = "", dob: str = "740812", expiry: str = "120415", nationality: str = "UTO",
        optional_2: str = "", name: str = "ERIKSSON<<ANNA<MARIA") -> tuple[str, str, str]:
    number = number.ljust(9, "<")
    one = (code + state + number + (_cd(number) if digit is None else digit) + optional_1).ljust(30, "<")
    two = dob + _cd(dob) + "F" + expiry + _cd(expiry) + nationality + optional_2.ljust(11, "<")
    two += _cd(one[5:30] + two[0:7] + two[8:15] + two[18:29])
    return one, two, name.ljust(30, "<")


def problems(lines: object) -> list[FieldProblem]:
    with pytest.raises(mrz.MrzError) as caught:
        mrz.parse(lines)  # type: ignore[arg-type]
    return list(caught.value.problems)


def test_the_builders_make_the_doc_9303_specimens() -> None:
    assert td3() == ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
    assert td1() == ("I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6",
                     "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
    assert td2() == ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6")


# -- the error as a whole ------------------------------------------------------------------------------

def test_one_kind_of_fault_gives_its_reason_and_the_text_lists_every_fault() -> None:
    with pytest.raises(mrz.MrzError) as caught:
        mrz.parse(td3(digit="5", personal_digit="2"))
    assert caught.value.reason == "mrz_check_digit"
    assert str(caught.value) == ("mrz_check_digit: document_number: check digit is 5, the data gives 6; "
                                 "personal_number: check digit is 2, the data gives 1")


def test_faults_of_two_kinds_give_bad_mrz() -> None:
    with pytest.raises(mrz.MrzError) as caught:
        mrz.parse(td3(sex="Q", digit="5"))
    assert caught.value.reason == "bad_mrz"
    assert caught.value.detail == ("document_number: check digit is 5, the data gives 6; "
                                   "sex: 'Q': M, F, X or '<'")


# -- input shape -------------------------------------------------------------------------------------

LAYOUT_WORDS = "a zone is 3 x 30 (TD1), 2 x 36 (TD2) or 2 x 44 (TD3)"


@pytest.mark.parametrize(("text", "detail"), [
    (12, "a zone is text, or a list of its lines"),
    (["P<UTO", 3], "a zone is text, or a list of its lines"),
    ("", f"0 line(s) of nothing characters: {LAYOUT_WORDS}"),
    ((td3()[0], td3()[1][:-1]), f"2 line(s) of 44 + 43 characters: {LAYOUT_WORDS}"),
    ("A" * 400, f"1 line(s) of 400 characters: {LAYOUT_WORDS}"),
    ("A" * 401, "far longer than a zone (200 characters)"),
    (["A" * 401], "far longer than a zone (200 characters)"),
    (["A" * 200, "A" * 201], "far longer than a zone (200 characters)"),
    (["A" * 200, "A" * 200], f"2 line(s) of 200 + 200 characters: {LAYOUT_WORDS}"),
])
def test_what_is_not_a_zone_is_refused_saying_what_a_zone_is(text: object, detail: str) -> None:
    assert problems(text) == [FieldProblem("$", "mrz_layout", detail)]


def test_a_bad_character_names_its_line_counting_from_one() -> None:
    one, two = td3()
    assert problems((one, two[:-1] + "é")) == [
        FieldProblem("line 2", "mrz_bad_character", "only A-Z, 0-9 and '<' may appear, not ['É']")]


def test_a_visa_zone_is_refused_pointing_at_the_passport() -> None:
    one, two = td3()
    assert problems(("V" + one[1:], two)) == [FieldProblem(
        "document_code", "mrz_layout", "a visa zone (MRV-A/MRV-B): not read here, read the passport's zone")]


def test_blanks_inside_a_line_are_dropped() -> None:
    one, two = td3()
    assert mrz.parse(one[:20] + " " + one[20:] + "\n" + two[:10] + "  " + two[10:]).lines == td3()


# -- check digits ------------------------------------------------------------------------------------

def test_check_digit_letters_count_from_ten_and_other_characters_as_filler() -> None:
    assert mrz.check_digit("Z") == str(35 * 7 % 10)
    assert mrz.check_digit("<Z") == str(35 * 3 % 10)
    assert mrz.check_digit("a") == mrz.check_digit("<") == "0"  # outside the zone's alphabet: a filler


def test_a_check_digit_that_is_not_a_digit_is_named() -> None:
    one, two = td3()
    assert problems((one, two[:19] + "A" + two[20:])) == [
        FieldProblem("birth_date", "mrz_check_digit", "check digit 'A' is not a digit"),
        FieldProblem("composite", "mrz_check_digit", "check digit is 0, the data gives 4")]


def test_a_filler_check_digit_is_allowed_only_for_an_empty_personal_number() -> None:
    assert problems(td3(personal="XX", personal_digit="<")) == [
        FieldProblem("personal_number", "mrz_check_digit", "check digit '<' is not a digit")]
    assert mrz.parse(td3(personal="", personal_digit="<")).optional_data == ("",)


def test_a_passport_without_a_document_number_is_named_with_its_check_digit() -> None:
    assert problems(td3(number="", digit="<")) == [
        FieldProblem("document_number", "mrz_bad_field", "no document number"),
        FieldProblem("document_number", "mrz_check_digit", "check digit '<' is not a digit")]
    assert problems(td3(number="", digit="5")) == [
        FieldProblem("document_number", "mrz_bad_field", "no document number"),
        FieldProblem("document_number", "mrz_check_digit", "check digit is 5, the data gives 0")]


@pytest.mark.parametrize("make", [td1, td2])
def test_a_card_without_a_document_number_is_named(make) -> None:  # noqa: ANN001
    assert problems(make(number="")) == [FieldProblem("document_number", "mrz_bad_field", "no document number")]
    assert problems(make(number="", digit="<")) == [
        FieldProblem("document_number", "mrz_bad_field", "no document number"),
        FieldProblem("document_number", "mrz_check_digit", "check digit '<' is not a digit")]


# -- document numbers --------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [td1, td2, td3])
def test_a_short_document_number_is_read_without_its_fillers(make) -> None:  # noqa: ANN001
    assert mrz.parse(make(number="AB12X")).document_number == "AB12X"
    assert mrz.parse(make(number="X")).document_number == "X"


def test_a_ten_character_number_overflows_by_one_character_and_its_check_digit() -> None:
    whole = "D231458907"
    zone = mrz.parse(td1(number=whole[:9], digit="<", optional_1=whole[9] + _cd(whole)))
    assert (zone.document_number, zone.optional_data) == (whole, ("", ""))
    zone = mrz.parse(td2(number=whole[:9], digit="<", optional=whole[9] + _cd(whole)))
    assert (zone.document_number, zone.optional_data) == (whole, ("",))


def test_an_overflow_marker_without_an_overflow_says_so() -> None:
    for zone in (td1(number="X", digit="<"), td1(digit="<", optional_1="7")):
        assert problems(zone) == [FieldProblem(
            "document_number", "mrz_bad_field",
            "'<' in the check digit's place, but no overflow of the number in the optional data")]


# -- fields ------------------------------------------------------------------------------------------

def test_every_field_of_a_card_with_optional_data_is_read() -> None:
    zone = mrz.parse(td1(code="IX", state="D<<", nationality="XXA", optional_1="12X", optional_2="ABX"))
    assert (zone.document_code, zone.issuing_state, zone.nationality) == ("IX", "D", "XXA")
    assert zone.optional_data == ("12X", "ABX")
    assert zone.lines == td1(code="IX", state="D<<", nationality="XXA", optional_1="12X", optional_2="ABX")
    zone = mrz.parse(td2(optional="ABCDEFX", nationality="XXB"))
    assert (zone.optional_data, zone.nationality, zone.issuing_state) == (("ABCDEFX",), "XXB", "UTO")
    assert zone.lines == td2(optional="ABCDEFX", nationality="XXB")
    zone = mrz.parse(td3(personal="ZE18422X", nationality="XXA"))
    assert (zone.optional_data, zone.nationality, zone.lines) == (("ZE18422X",), "XXA", td3(personal="ZE18422X",
                                                                                              nationality="XXA"))


def test_the_composite_covers_the_nationalitys_neighbours_but_not_the_nationality() -> None:
    # Germany's 'D' (13) is not a multiple of ten: a composite over the wrong range fails
    assert mrz.parse(td1(nationality="D<<", optional_2="7")).nationality == "D"


@pytest.mark.parametrize("make", [td1, td3])
def test_bad_codes_are_named_with_what_was_read(make) -> None:  # noqa: ANN001
    assert problems(make(code="1<", state="U1O")) == [
        FieldProblem("document_code", "mrz_bad_field", "'1<' is not a document code"),
        FieldProblem("issuing_state", "mrz_bad_field", "'U1O' is not a state code")]


def test_a_bad_card_nationality_is_named() -> None:
    assert problems(td1(nationality="U1O")) == [FieldProblem("nationality", "mrz_bad_field",
                                                             "'U1O' is not a state code")]


@pytest.mark.parametrize("name", ["<<ANNA", "ERIK5SON<<ANNA"])
def test_a_name_zone_not_starting_with_a_name_is_named(name: str) -> None:
    assert problems(td3(name=name)) == [FieldProblem(
        "name", "mrz_bad_field", "the name zone starts with the primary identifier, A-Z and '<' only")]


def test_names_ending_in_x_keep_it() -> None:
    zone = mrz.parse(td3(name="FOX<<FELIX"))
    assert (zone.primary_identifier, zone.secondary_identifier) == ("FOX", ("FELIX",))
    zone = mrz.parse(td1(name="FOX<<FELIX"))
    assert (zone.primary_identifier, zone.secondary_identifier) == ("FOX", ("FELIX",))


# -- dates -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dob", ["740101", "741231", "740131", "740331", "740531", "740731", "740831", "741031",
                                 "000229", "040229", "740430"])
def test_real_dates_are_read(dob: str) -> None:
    for make in (td1, td2, td3):
        assert mrz.parse(make(dob=dob)).birth_date == mrz.MrzDate(int(dob[:2]), int(dob[2:4]), int(dob[4:]))


@pytest.mark.parametrize(("dob", "why"), [
    ("740001", "month 00"), ("741301", "month 13"), ("740100", "day 00"), ("740132", "day 32"),
    ("740431", "day 31"), ("740631", "day 31"), ("740931", "day 31"), ("741131", "day 31"),
    ("010229", "day 29"), ("050229", "day 29"), ("040230", "day 30"),
])
def test_impossible_dates_are_named_in_every_format(dob: str, why: str) -> None:
    for make in (td1, td2, td3):
        assert problems(make(dob=dob)) == [FieldProblem("birth_date", "mrz_bad_date", f"{dob!r}: {why}")]
        assert problems(make(expiry=dob)) == [FieldProblem("expiry_date", "mrz_bad_date", f"{dob!r}: {why}")]


def test_a_date_with_a_letter_is_named() -> None:
    assert problems(td1(expiry="12A415")) == [
        FieldProblem("expiry_date", "mrz_bad_date", "'12A415': YYMMDD digits, '<' where unknown")]


def test_centuries_at_their_boundaries() -> None:
    assert mrz.MrzDate(5, 1, 1).partial(2010) == "2005-01-01"  # the century of 2010 is 2000, not 1900
    assert mrz.MrzDate(76, None, None).partial(2026, future=True) == "2076"  # 50 years ahead: still ahead
    assert mrz.MrzDate(77, None, None).partial(2026, future=True) == "1977"  # 51: the last century
