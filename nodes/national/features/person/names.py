"""Matching a traveller's name against person alerts across scripts: every name becomes candidate
Latin forms (ICAO 9303 transliteration and its alternatives, pinyin for Han, a vowel-less reading
of Arabic), each token a key under common variant-spelling rules; two names are compared token set
against token set, the date of birth weighs in, and every result says why (docs/person-alerts.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from pypinyin import Style, pinyin
from rapidfuzz.distance import Indel

from protocol.transliteration import TransliterationError, script_of, transliterate, variants

MATCH_THRESHOLD = 0.86  # a name score at or above this is a match
TOKEN_THRESHOLD = 0.82  # two tokens below this similarity are not paired ...
SHORT_TOKEN_THRESHOLD = 0.9  # ... nor short ones (keys of at most 5 letters: Min / Ming) below this ...
SKELETON_THRESHOLD = 0.75  # ... unless three or more consonants are the same (Mustafa / Moustapha) and they
# reach this, or two are, the tokens are long, begin alike and reach 0.8 (Yusuf / Yousef)
SHORT_TOKEN = 5
STEM_THRESHOLD = 0.6  # before a shared ending of 5+ letters, the rest must be this alike
DOB_CONFLICT_FACTOR = 0.6  # a birth date that contradicts divides the score so: never a match
DOB_FULL_BONUS = 0.05
PARTICLES = frozenset({"al", "el", "ul", "bin", "ibn", "bint"})  # Arabic article and 'son of': left out

# Han surnames whose everyday reading as a surname differs from the character's first reading.
_SURNAME_READINGS = {"曾": "zeng", "单": "shan", "区": "ou", "仇": "qiu", "解": "xie", "查": "zha", "朴": "piao",
                     "翟": "zhai", "覃": "qin", "盖": "ge", "乐": "yue", "缪": "miao", "尉迟": "yuchi", "长孙": "zhangsun"}
_ARABIC_ARTICLE = "ال"
# The ICAO Arabic table's X-letters read as the letters people write: ح XH -> H, ص XSS -> S ...
_ARABIC_COMMON = (("XKH", "KH"), ("XTH", "TH"), ("XDH", "DH"), ("XSH", "SH"), ("XSS", "S"), ("XDZ", "D"),
                  ("XTT", "T"), ("XZZ", "Z"), ("XAA", "A"), ("XAE", "A"), ("XTA", "A"), ("XAY", "A"),
                  ("XXA", "A"), ("XYA", "Y"), ("XKK", "K"), ("XGG", "G"), ("XC", "CH"), ("XJ", "ZH"),
                  ("XH", "H"), ("XE", ""), ("XI", "I"))
# Variant-spelling rules, applied in order to a lower-case token: one key for the spellings of one
# name (Mohammed/Muhammad/Mohamad, Youssef/Yusuf/Jusuf, Chruschtschow/Khrushchev, Aisha/Aicha).
_RULES = tuple((re.compile(a), b) for a, b in (
    (r"xx", ""), (r"ou(?=[aei])", "w"), (r"tsch", "ch"), (r"sch", "sh"), (r"tch", "ch"), (r"ph", "f"),
    (r"kh", "h"), (r"gh", "g"),
    (r"dh", "d"), (r"th", "t"), (r"ck", "k"), (r"q", "k"), (r"c(?=[eiy])", "s"), (r"c(?!h)", "k"), (r"x", "ks"),
    (r"w", "v"), (r"tz", "z"), (r"ts", "z"), (r"dzh", "j"), (r"dj", "j"), (r"zh", "sh"), (r"z", "s"),
    (r"nt", "d"), (r"mp", "b"), (r"ng(?=[aeiouy])", "g"), (r"j", "i"),
    (r"y", "i"),
    (r"ou", "u"), (r"oo", "u"), (r"ee", "i"), (r"ae", "a"), (r"oe", "o"), (r"ue", "u"), (r"o", "u"), (r"e", "i"),
    (r"(.)\1+", r"\1"), (r"(?<=[aiu])h$", ""),
))
_VOWELS = re.compile(r"[aiuy]")
_SEMIVOWELS = re.compile(r"[vy]")
_DOUBLE = re.compile(r"(.)\1+")
_NOT_LETTER = re.compile(r"[^a-z]+")
_ARTICLE = re.compile(r"\b[AE]L(?=[B-DF-HJ-NP-TV-Z][A-Z]{3})")


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # the Latin token as read ('muhammad')
    key: str  # after the variant rules ('muhamad')
    skeleton: str  # the key without vowels ('mhmd')
    bare: str  # the skeleton without v/w and y, which Arabic writes for long vowels too ('anwar': 'nr')
    unvocalised: bool  # read from a script that does not write short vowels (Arabic)
    pinyin: bool = False  # a standard romanisation: its spelling is exact (Zhou is not Zhu)


@dataclass(frozen=True, slots=True)
class LatinForm:
    """One Latin reading of a name and how it was obtained ('icao', 'icao alternative', 'pinyin',
    'arabic without vowels', 'as written')."""

    tokens: tuple[Token, ...]
    method: str

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.tokens)


@dataclass(frozen=True, slots=True)
class PersonName:
    """A name to compare: the name as written (any script), its language if known, and the date of
    birth if known (YYYY, YYYY-MM or YYYY-MM-DD)."""

    name: str
    language: str | None = None
    date_of_birth: str | None = None
    forms: tuple[LatinForm, ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, name: str, language: str | None = None, date_of_birth: str | None = None) -> PersonName:
        return cls(name, language, date_of_birth, tuple(distinct_forms(latin_forms(name, language))))


def distinct_forms(forms: Iterable[LatinForm]) -> list[LatinForm]:
    """The forms whose keys differ (MUELLER and MULLER are one key), the first of each kept."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for form in forms:
        keys = tuple(sorted(t.key + ("/p" if t.pinyin else "") + ("/u" if t.unvocalised else "") for t in form.tokens))
        if keys not in seen:
            seen.add(keys)
            out.append(form)
    return out


@dataclass(frozen=True, slots=True)
class TokenMatch:
    query: str
    candidate: str
    similarity: float


@dataclass(frozen=True, slots=True)
class NameMatch:
    """A scored comparison and why: which readings, which tokens paired, the birth dates."""

    score: float
    query_form: str
    query_method: str
    candidate_form: str
    candidate_method: str
    tokens: tuple[TokenMatch, ...]
    date_of_birth: str  # agrees | agrees at year | agrees at month | differs | unknown

    @property
    def is_match(self) -> bool:
        return self.score >= MATCH_THRESHOLD

    def explanation(self) -> str:
        pairs = ", ".join(f"{t.query}={t.candidate}" if t.similarity == 1 else
                          f"{t.query}~{t.candidate} {t.similarity:.2f}" for t in self.tokens) or "no token pairs"
        return (f"score {self.score:.2f}: {self.query_form!r} ({self.query_method}) against "
                f"{self.candidate_form!r} ({self.candidate_method}); tokens {pairs}; "
                f"date of birth {self.date_of_birth}")


# -- Latin forms ----------------------------------------------------------------------------------

@lru_cache(maxsize=65536)
def token(text: str, unvocalised: bool = False, pinyin: bool = False) -> Token:
    key = text.lower()
    if not pinyin:
        for pattern, replacement in _RULES:
            key = pattern.sub(replacement, key)
    skeleton = _DOUBLE.sub(r"\1", _VOWELS.sub("", key))
    return Token(text.lower(), key, skeleton, _DOUBLE.sub(r"\1", _SEMIVOWELS.sub("", skeleton)), unvocalised, pinyin)


def _tokens(latin: str, unvocalised: bool = False, pinyin: bool = False) -> tuple[Token, ...]:
    words = [w for w in _NOT_LETTER.split(latin.lower()) if w]
    kept = words if unvocalised else ([w for w in words if w not in PARTICLES] or words)
    return tuple(token(w, unvocalised, pinyin) for w in kept)


def _han_forms(text: str) -> list[LatinForm]:
    """Han: pinyin, the surname (first character, or a known two-character one) apart, the given
    name's syllables joined (Wang Xiaoming) and apart (Wang Xiao Ming)."""
    chars = [c for c in text if not c.isspace()]
    surname_len = 2 if "".join(chars[:2]) in _SURNAME_READINGS else 1
    surname = "".join(chars[:surname_len])
    readings = [_SURNAME_READINGS[surname]] if surname in _SURNAME_READINGS else []
    readings += ["".join(s[0] for s in pinyin(surname, style=Style.NORMAL))]
    given = [s[0] for s in pinyin("".join(chars[surname_len:]), style=Style.NORMAL)]
    forms = []
    for reading in dict.fromkeys(readings):
        forms.append(LatinForm(_tokens(" ".join([reading, "".join(given)]), pinyin=True), "pinyin"))
        if len(given) > 1:
            forms.append(LatinForm(_tokens(" ".join([reading, *given]), pinyin=True), "pinyin, syllables apart"))
    return forms


def _arabic_forms(text: str, language: str | None) -> list[LatinForm]:
    """ICAO's reversible form, then the same read as people write it, without short vowels (the
    script does not write them): the tokens compare by their consonants."""
    icao = transliterate(text, language)
    common = icao
    for x_letter, letters in _ARABIC_COMMON:
        common = common.replace(x_letter, letters)
    words = [w[2:] if w.startswith("AL") and len(w) > 4 else w for w in common.split()]
    # alef (A) and ع (E) inside a word are vowels to a Latin reader; و (W) and ي (Y) are kept: they
    # are long vowels or consonants, and `token_similarity` reads them both ways
    vowelless = " ".join(re.sub(r"(?<=.)[AE]", "", w) or w for w in words)
    forms = [LatinForm(_tokens(icao), "icao"), LatinForm(_tokens(vowelless, unvocalised=True), "arabic without vowels")]
    return forms


def latin_forms(name: str, language: str | None = None) -> list[LatinForm]:
    """The candidate Latin readings of a name written in any script, the most standard first."""
    script = script_of(name)
    if script == "Hani":
        return _han_forms(name)
    if script == "Arab":
        return _arabic_forms(name, language)
    try:
        spellings = variants(name, language)
    except TransliterationError:
        spellings = []
    forms = [LatinForm(_tokens(s), "icao" if i == 0 else "icao alternative") for i, s in enumerate(spellings[:8])]
    if spellings and _ARTICLE.search(spellings[0]):  # Alsharif, Elkhatib: the Arabic article written on
        forms.append(LatinForm(_tokens(_ARTICLE.sub("", spellings[0])), "icao, article left out"))
    if script == "Grek":
        forms += [LatinForm(_tokens(s), "greek elot 743") for s in _greek_elot(name, language)]
    if not forms:  # a script without a table: letters with their marks stripped, as written
        stripped = "".join(c for c in unicodedata.normalize("NFKD", name) if c.isascii())
        forms = [LatinForm(_tokens(stripped), "as written")]
    return forms


_ELOT = (("ΟΥ", ("OU",)), ("ΑΥ", ("AV", "AF")), ("ΕΥ", ("EV", "EF")), ("ΜΠ", ("MP", "B")), ("ΝΤ", ("NT", "D")),
         ("ΓΓ", ("NG",)), ("ΓΚ", ("GK", "G")), ("Η", ("I", "E")), ("Υ", ("I", "Y")), ("Β", ("V", "B")), ("Χ", ("CH", "H")))


def _greek_elot(name: str, language: str | None) -> list[str]:
    """Greek digraph readings (ELOT 743 and everyday spellings): Μπ as B, Ευ as EV ..."""
    text = "".join(c for c in unicodedata.normalize("NFD", name.upper()) if not unicodedata.combining(c))
    out = []
    for choice in (0, 1):
        spelled = text
        for greek, latin in _ELOT:
            spelled = spelled.replace(greek, latin[min(choice, len(latin) - 1)])
        try:
            out.append(transliterate(spelled, language))
        except TransliterationError:
            continue
    return out


# -- scoring --------------------------------------------------------------------------------------

@lru_cache(maxsize=262144)
def token_similarity(a: Token, b: Token) -> float:
    """How alike two tokens are, 0 when they may not be paired at all.

    Equal keys: 1. Pinyin against anything: the spellings themselves (pinyin is exact). A token
    read without vowels (Arabic): consonant skeletons. Otherwise the Indel similarity of the keys,
    kept if it reaches the threshold for the tokens' length, or if the consonants are the same."""
    if a.key == b.key:
        return 1.0
    if a.pinyin or b.pinyin:
        similarity = Indel.normalized_similarity(a.text, b.text)
        return similarity if similarity >= SHORT_TOKEN_THRESHOLD else 0.0
    if a.unvocalised and b.unvocalised:  # both Arabic: the letters as written
        return 1.0 if a.text == b.text else 0.0
    if a.unvocalised or b.unvocalised:
        arabic, latin = (a, b) if a.unvocalised else (b, a)
        if (arabic.key[0] in "aiu") != (latin.key[0] in "aiu"):  # أنور Anwar is not نور Nur
            return 0.0
        if "i" in arabic.key[1:] and "i" not in latin.key:  # حسين Hussein is not Hassan
            return 0.0
        if len(a.bare) < 2 or len(b.bare) < 2:
            return 0.95 if a.bare == b.bare and a.bare else 0.0
        if a.bare == b.bare or a.bare.rstrip("h") == b.bare.rstrip("h"):  # Salih / صالح: h kept in Arabic
            return 0.95
        similarity = Indel.normalized_similarity(a.bare, b.bare)
        return 0.9 * similarity if min(len(a.bare), len(b.bare)) >= 5 and similarity >= SHORT_TOKEN_THRESHOLD else 0.0
    similarity = Indel.normalized_similarity(a.key, b.key)
    if a.skeleton == b.skeleton and (
            (len(a.skeleton) >= 3 and similarity >= SKELETON_THRESHOLD)
            or (len(a.skeleton) == 2 and min(len(a.key), len(b.key)) >= 5 and a.key[0] == b.key[0]
                and similarity >= 0.8)):
        return max(similarity, 0.9)
    short = min(len(a.key), len(b.key)) <= SHORT_TOKEN
    if similarity < (SHORT_TOKEN_THRESHOLD if short else TOKEN_THRESHOLD):
        return 0.0
    return similarity if _stems_alike(a.key, b.key) else 0.0


def _stems_alike(a: str, b: str) -> bool:
    """A shared ending of five or more letters (-opoulos, -enko) makes long names look alike:
    what comes before it must be alike too (Angelopoulos is not Iliopoulos)."""
    common = 0
    while common < min(len(a), len(b)) and a[-1 - common] == b[-1 - common]:
        common += 1
    if common < 5 or common == min(len(a), len(b)):
        return True
    return Indel.normalized_similarity(a[:-common], b[:-common]) >= STEM_THRESHOLD


def _pair_tokens(query: Sequence[Token], candidate: Sequence[Token], parts: int
                 ) -> tuple[float, list[TokenMatch]]:
    """Pair tokens greedily, most similar first (names come in any order); the score weighs the
    two names' coverage equally (a missing middle name needs the date of birth to match).
    `parts`: the fewer tokens of the two names as written, before any joining."""
    pairs = []
    for i, q in enumerate(query):
        for j, c in enumerate(candidate):
            similarity = token_similarity(q, c)
            if similarity:
                pairs.append((similarity, i, j))
    pairs.sort(reverse=True)
    used_q: set[int] = set()
    used_c: set[int] = set()
    matched: list[TokenMatch] = []
    total = 0.0
    for similarity, i, j in pairs:
        if i in used_q or j in used_c:
            continue
        used_q.add(i)
        used_c.add(j)
        total += similarity
        matched.append(TokenMatch(query[i].text, candidate[j].text, round(similarity, 3)))
    shorter, longer = sorted((len(query), len(candidate)))
    if shorter == 0:
        return 0.0, []
    score = 0.5 * total / shorter + 0.5 * total / longer
    if parts >= 2 and len(matched) < 2:  # one shared token of two-part names is not the person
        score = min(score, 0.5)
    return score, matched


@lru_cache(maxsize=65536)
def _joins(form: LatinForm) -> tuple[LatinForm, ...]:
    """The form with two adjacent tokens written as one (Xiao Ming / Xiaoming, Abd Allah /
    Abdallah), each way of doing so."""
    tokens = form.tokens
    out = []
    for i in range(len(tokens) - 1):
        merged = token(tokens[i].text + tokens[i + 1].text, tokens[i].unvocalised, tokens[i].pinyin)
        out.append(LatinForm((*tokens[:i], merged, *tokens[i + 2:]), form.method + ", joined"))
    return tuple(out)


def date_of_birth_agreement(a: str | None, b: str | None) -> str:
    """Two full or partial birth dates: 'agrees' (the same day), 'agrees at year' / 'agrees at
    month' (one is partial), 'differs', or 'unknown' (one is missing)."""
    if not a or not b:
        return "unknown"
    n = min(len(a), len(b))
    if a[:n] != b[:n]:
        return "differs"
    return "agrees" if n == 10 else ("agrees at month" if n == 7 else "agrees at year")


def compare(query: PersonName, candidate: PersonName) -> NameMatch:
    """The best pairing over every reading of both names, with the birth dates weighed in."""
    best: tuple[float, LatinForm, LatinForm, list[TokenMatch]] | None = None
    for q_form in query.forms or tuple(distinct_forms(latin_forms(query.name, query.language))):
        for c_form in candidate.forms or tuple(distinct_forms(latin_forms(candidate.name, candidate.language))):
            parts = min(len(q_form.tokens), len(c_form.tokens))
            # the side with more tokens may have two joined, never both (Zhang Min is not Zhangming)
            longer_q, longer_c = len(q_form.tokens) > len(c_form.tokens), len(c_form.tokens) > len(q_form.tokens)
            for q, c in [(q_form, c_form), *((q, c_form) for q in (_joins(q_form) if longer_q else ())),
                         *((q_form, c) for c in (_joins(c_form) if longer_c else ()))]:
                score, matched = _pair_tokens(q.tokens, c.tokens, parts)
                if best is None or score > best[0]:
                    best = (score, q, c, matched)
    if best is None:
        return NameMatch(0.0, "", "", "", "", (), date_of_birth_agreement(query.date_of_birth,
                                                                          candidate.date_of_birth))
    score, q, c, matched = best
    agreement = date_of_birth_agreement(query.date_of_birth, candidate.date_of_birth)
    if agreement == "differs":
        score *= DOB_CONFLICT_FACTOR
    elif agreement == "agrees":
        score = min(1.0, score + DOB_FULL_BONUS)
    return NameMatch(round(score, 3), q.text, q.method, c.text, c.method, tuple(matched), agreement)


# -- an index for many alerts ---------------------------------------------------------------------

def _block(t: Token) -> str:
    if t.pinyin:  # filed under its key as a Latin spelling would be
        t = token(t.text, t.unvocalised)
    consonants = _DOUBLE.sub(r"\1", t.bare.replace("ch", "h").replace("sh", "h"))
    return consonants[:2] or t.key[:2]


def _blocks(name: PersonName) -> set[str]:
    """Keys under which a name is filed: each token's first two consonants (v, y left out; ch,
    sh and h one: Erchov / Ershov, Michail / Mikhail), also of two adjacent tokens written as one
    (Gui Ying / Guiying). Two names that can match share two keys (one if a name has one)."""
    keys = set()
    for form in name.forms:
        for t in form.tokens:
            keys.add(_block(t))
        for joined in _joins(form):
            keys.update(_block(t) for t in joined.tokens)
    return keys


class NameIndex:
    """Names filed under their consonant blocks; `search` compares a query with the names that
    share a block, not with all of them."""

    def __init__(self) -> None:
        self._names: dict[str, PersonName] = {}
        self._blocks: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._names)

    def add(self, ident: str, name: PersonName) -> None:
        self._names[ident] = name
        for key in _blocks(name):
            self._blocks.setdefault(key, set()).add(ident)

    def candidates(self, query: PersonName) -> set[str]:
        """The names sharing two blocks with the query (one, for a name of one block): a name of
        two or more parts matches only if two of its parts pair, and paired tokens begin with the
        same consonant under the variant rules."""
        blocks = _blocks(query)
        hits: dict[str, int] = {}
        for key in blocks:
            for ident in self._blocks.get(key, ()):
                hits[ident] = hits.get(ident, 0) + 1
        needed = 2 if len(blocks) >= 2 else 1
        return {ident for ident, count in hits.items() if count >= needed}

    def search(self, query: PersonName, *, exclude: str | None = None) -> list[tuple[str, NameMatch]]:
        """Every match at or above MATCH_THRESHOLD, best first."""
        out = []
        for ident in self.candidates(query):
            if ident == exclude:
                continue
            result = compare(query, self._names[ident])
            if result.is_match:
                out.append((ident, result))
        return sorted(out, key=lambda item: (-item[1].score, item[0]))


# -- keys for an index in a database ---------------------------------------------------------------

def index_keys(name: PersonName) -> set[str]:
    """The keys under which a database files a name so that one exact lookup per key finds what
    `NameIndex.candidates` would: every pair of its blocks ('hd|mh'), or its one block ('mh')
    for a name of one block. A query's keys meet a name's keys exactly when they share two
    blocks (one, when both have one): names of two or more parts that share a single block score
    at most 0.5 (`_pair_tokens`), and a one-token query meets a longer name at 0.75 at most."""
    blocks = sorted(_blocks(name))
    if len(blocks) < 2:
        return set(blocks)
    return {f"{a}|{b}" for i, a in enumerate(blocks) for b in blocks[i + 1:]}
