"""The labelled set for name matching (docs/person-alerts.md): true variant pairs, built from
names in their own script (Cyrillic, Greek, Arabic, Han, Latin with diacritics) and the ways they
are spelled in Latin, and distinct names, built from the same name lists in other combinations.

Deterministic (one seed). The spelling systems here are written independently of the matcher's
rules (nodes/national/features/person/names.py), so that the set does not grade its own homework;
only the ICAO form comes from protocol/transliteration.py, as a passport's MRZ would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from protocol.transliteration import transliterate, variants

SEED = 16


@dataclass(frozen=True)
class Person:
    culture: str
    written: str  # in its own script
    language: str
    spellings: tuple[str, ...]  # Latin spellings met in documents, lists and reports


# -- Cyrillic (Russian, Ukrainian) ---------------------------------------------------------------

RU_GIVEN = ["Иван", "Дмитрий", "Сергей", "Алексей", "Юрий", "Евгений", "Михаил", "Николай", "Ольга", "Наталья",
            "Юлия", "Татьяна", "Ксения", "Андрей", "Владимир", "Фёдор", "Григорий", "Анастасия", "Екатерина",
            "Елена", "Вячеслав", "Жанна", "Яна", "Людмила", "Светлана", "Максим", "Артём", "Кирилл", "Борис",
            "Галина", "Зоя", "Пётр", "Василий", "Олег", "Игорь", "Лариса", "Тимофей", "Арсений", "Всеволод",
            "Эдуард"]
RU_FAMILY = ["Петров", "Смирнов", "Кузнецов", "Щукин", "Хрущёв", "Жуков", "Соловьёв", "Яковлев", "Чайковский",
             "Белов", "Зайцев", "Фёдоров", "Михайлов", "Новиков", "Юсупов", "Шевченко", "Ковальчук", "Воробьёв",
             "Лебедев", "Козлов", "Степанов", "Орлов", "Макаров", "Никитин", "Захаров", "Зуев", "Тарасов",
             "Ильин", "Гусев", "Титов", "Кудрявцев", "Баранов", "Куликов", "Алексеев", "Ершов", "Щербаков",
             "Блинов", "Цветков", "Чернышёв", "Дьячков"]

_RU_COMMON = {"А": "A", "Б": "B", "В": "V", "Г": "G", "Д": "D", "Е": "E", "Ё": "E", "Ж": "ZH", "З": "Z", "И": "I",
              "Й": "Y", "К": "K", "Л": "L", "М": "M", "Н": "N", "О": "O", "П": "P", "Р": "R", "С": "S", "Т": "T",
              "У": "U", "Ф": "F", "Х": "KH", "Ц": "TS", "Ч": "CH", "Ш": "SH", "Щ": "SHCH", "Ъ": "", "Ы": "Y",
              "Ь": "", "Э": "E", "Ю": "YU", "Я": "YA"}
_RU_SYSTEMS = {
    # Russian passports 1997-2010 and everyday English
    "common": ({}, {"ИЙ": "Y", "ЫЙ": "Y"}),
    "english": ({"Е": "YE", "Ё": "YO"}, {"ИЙ": "IY", "ЬЕ": "YE", "ЬЁ": "YO", "ЬЯ": "YA"}),
    "german": ({"Ж": "SCH", "З": "S", "Х": "CH", "Ц": "Z", "Ч": "TSCH", "Ш": "SCH", "Щ": "SCHTSCH", "Й": "J",
                "Ю": "JU", "Я": "JA", "В": "W", "Ё": "JO"}, {"ИЙ": "I", "ЬЁ": "JO", "ЕВ": "EW"}),
    "french": ({"Ж": "J", "Ч": "TCH", "Ш": "CH", "Щ": "CHTCH", "У": "OU", "Ю": "IOU", "Я": "IA", "Й": "I",
                "Ё": "IO"}, {"ИЙ": "I", "ЬЁ": "IO"}),
}


def _cyrillic(text: str, system: str) -> str:
    letters, endings = _RU_SYSTEMS[system]
    table = {**_RU_COMMON, **letters}
    words = []
    for word in text.upper().split():
        out = ""
        i = 0
        while i < len(word):
            pair = word[i:i + 2]
            if pair in endings and (i + 2 == len(word) or not pair.startswith("И")):
                out += endings[pair]
                i += 2
                continue
            out += table.get(word[i], word[i])
            i += 1
        words.append(out.capitalize())
    return " ".join(words)


# -- Greek ---------------------------------------------------------------------------------------

EL_GIVEN = ["Σωκράτης", "Γεώργιος", "Ευάγγελος", "Δημήτριος", "Χρυσάνθη", "Αικατερίνη", "Θεόδωρος", "Παναγιώτης",
            "Ελευθερία", "Κωνσταντίνος", "Ιωάννης", "Σταύρος", "Νικόλαος", "Ευθυμία", "Φώτιος", "Χαράλαμπος",
            "Ζωή", "Βασίλειος", "Μαρία", "Αθανάσιος", "Ξανθίππη", "Σπυρίδων", "Ηλίας", "Ανδρέας", "Θεοδώρα"]
EL_FAMILY = ["Παπαδόπουλος", "Μπακογιάννης", "Καραμανλής", "Βλάχος", "Γεωργίου", "Οικονόμου", "Χατζηδάκης",
             "Ψαρρός", "Αντωνίου", "Ντόκος", "Ζαχαρίου", "Σταυρόπουλος", "Θεοχάρης", "Μαυρίδης", "Κυριακίδης",
             "Λαμπράκης", "Ευαγγελίου", "Τσίπρας", "Φραγκιαδάκης", "Ηλιόπουλος", "Δημητρίου", "Πετρίδης",
             "Αγγελόπουλος", "Ξυδάκης", "Ρήγας"]
_EL_LETTERS = {"Α": "A", "Β": "V", "Γ": "G", "Δ": "D", "Ε": "E", "Ζ": "Z", "Η": "I", "Θ": "TH", "Ι": "I", "Κ": "K",
               "Λ": "L", "Μ": "M", "Ν": "N", "Ξ": "X", "Ο": "O", "Π": "P", "Ρ": "R", "Σ": "S", "Τ": "T", "Υ": "Y",
               "Φ": "F", "Χ": "CH", "Ψ": "PS", "Ω": "O"}
_EL_SYSTEMS = {
    "elot": (("ΟΥ", "OU"), ("ΑΥ", "AV"), ("ΕΥ", "EV"), ("ΜΠ", "MP"), ("ΝΤ", "NT"), ("ΓΓ", "NG"), ("ΓΚ", "GK")),
    "phonetic": (("ΟΥ", "OU"), ("ΑΥ", "AV"), ("ΕΥ", "EV"), ("ΑΙ", "E"), ("ΟΙ", "I"), ("ΕΙ", "I"), ("ΜΠ", "B"),
                 ("ΝΤ", "D"), ("ΓΓ", "NG"), ("ΓΚ", "G"), ("Χ", "H"), ("Υ", "I")),
}


def _greek(text: str, system: str) -> str:
    import unicodedata
    plain = "".join(c for c in unicodedata.normalize("NFD", text.upper()) if not unicodedata.combining(c))
    words = []
    for word in plain.split():
        for greek, latin in _EL_SYSTEMS[system]:
            word = word.replace(greek, latin)
        words.append("".join(_EL_LETTERS.get(c, c) for c in word).capitalize())
    return " ".join(words)


# -- Arabic (unvocalised, as written) with the spellings met in practice -------------------------

AR_GIVEN = [
    ("محمد", ["Mohammed", "Muhammad", "Mohamad", "Mohamed", "Muhammed"]), ("أحمد", ["Ahmed", "Ahmad"]),
    ("يوسف", ["Yusuf", "Youssef", "Yousef", "Yussuf"]), ("خالد", ["Khaled", "Khalid"]),
    ("حسن", ["Hassan", "Hasan"]), ("حسين", ["Hussein", "Husain", "Hussain", "Husein"]), ("علي", ["Ali", "Aly"]),
    ("عمر", ["Omar", "Umar", "Omer"]), ("إبراهيم", ["Ibrahim", "Ebrahim", "Ibraheem"]),
    ("مصطفى", ["Mustafa", "Moustafa", "Mostafa", "Mustapha"]), ("فاطمة", ["Fatima", "Fatimah", "Fatema"]),
    ("عائشة", ["Aisha", "Aysha", "Aicha", "Aischa"]), ("سعيد", ["Said", "Saeed", "Saied"]),
    ("كريم", ["Karim", "Kareem", "Kerim"]), ("طارق", ["Tariq", "Tarek", "Tarik"]),
    ("جمال", ["Jamal", "Gamal", "Djamal"]), ("رشيد", ["Rashid", "Rachid", "Rasheed"]),
    ("سليم", ["Salim", "Selim", "Saleem"]), ("نبيل", ["Nabil", "Nabeel"]), ("وليد", ["Walid", "Waleed"]),
    ("زينب", ["Zainab", "Zaynab", "Zeinab"]), ("مريم", ["Maryam", "Mariam", "Meryem"]),
    ("عثمان", ["Othman", "Uthman", "Osman"]), ("ياسين", ["Yassin", "Yasin", "Yacine"]),
    ("بلال", ["Bilal", "Belal"]), ("حمزة", ["Hamza", "Hamzah"]), ("أنور", ["Anwar", "Anouar"]),
    ("منير", ["Munir", "Mounir"]), ("نور", ["Nour", "Noor", "Nur"]), ("هشام", ["Hisham", "Hicham", "Hesham"]),
]
AR_FAMILY = [
    ("الشريف", ["Al-Sharif", "El Sharif", "Alsharif", "Sharif"]), ("حداد", ["Haddad", "Hadad"]),
    ("منصور", ["Mansour", "Mansur"]), ("الخطيب", ["Al-Khatib", "El Khatib", "Khatib"]),
    ("سليمان", ["Suleiman", "Sulayman", "Soliman", "Sleiman"]), ("قاسم", ["Qasim", "Kassem", "Kasim", "Qassem"]),
    ("ناصر", ["Nasser", "Naser", "Nasir"]), ("جابر", ["Jaber", "Jabir", "Gaber"]),
    ("البغدادي", ["Al-Baghdadi", "El Baghdadi", "Baghdadi"]), ("العمري", ["Al-Omari", "El Omari", "Alomari"]),
    ("الحسيني", ["Al-Husseini", "El Husseini", "Husseini"]), ("عباس", ["Abbas", "Abas"]),
    ("صالح", ["Saleh", "Salih", "Salah"]), ("الزهراني", ["Al-Zahrani", "Alzahrani", "Zahrani"]),
    ("حمدان", ["Hamdan", "Hamdane"]), ("الأنصاري", ["Al-Ansari", "El Ansari", "Ansari"]),
    ("مراد", ["Murad", "Mourad", "Morad"]), ("بكري", ["Bakri", "Bakry"]), ("التميمي", ["Al-Tamimi", "Tamimi"]),
    ("رحمن", ["Rahman", "Rahmane"]), ("شاهين", ["Shaheen", "Chahine", "Shahin"]),
    ("الدوري", ["Al-Douri", "Al-Duri", "Douri"]), ("غانم", ["Ghanem", "Ghanim", "Ganem"]),
    ("فرج", ["Faraj", "Farag", "Farah"]), ("يونس", ["Younes", "Yunus", "Younis"]),
    ("عيسى", ["Issa", "Eissa", "Isa"]), ("زيدان", ["Zidane", "Zaidan", "Zeidan"]),
    ("الكردي", ["Al-Kurdi", "El Kurdi", "Kurdi"]), ("نجار", ["Najjar", "Nagar", "Najar"]),
    ("القاضي", ["Al-Qadi", "El Kadi", "Qadi"]),
]

# -- Han, with Hanyu Pinyin written by hand (not by the matcher's library) -----------------------

ZH_FAMILY = [("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"), ("杨", "Yang"),
             ("黄", "Huang"), ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"), ("徐", "Xu"), ("孙", "Sun"),
             ("马", "Ma"), ("朱", "Zhu"), ("胡", "Hu"), ("郭", "Guo"), ("何", "He"), ("林", "Lin"), ("罗", "Luo"),
             ("高", "Gao"), ("曾", "Zeng"), ("单", "Shan"), ("梁", "Liang"), ("宋", "Song"), ("郑", "Zheng"),
             ("谢", "Xie"), ("韩", "Han"), ("唐", "Tang"), ("冯", "Feng"), ("于", "Yu")]
ZH_GIVEN = [("小明", "Xiao Ming"), ("伟", "Wei"), ("芳", "Fang"), ("秀英", "Xiu Ying"), ("敏", "Min"),
            ("静", "Jing"), ("强", "Qiang"), ("磊", "Lei"), ("军", "Jun"), ("勇", "Yong"), ("艳", "Yan"),
            ("杰", "Jie"), ("娟", "Juan"), ("涛", "Tao"), ("超", "Chao"), ("秀兰", "Xiu Lan"), ("霞", "Xia"),
            ("平", "Ping"), ("刚", "Gang"), ("桂英", "Gui Ying"), ("建国", "Jian Guo"), ("志强", "Zhi Qiang"),
            ("海燕", "Hai Yan"), ("春华", "Chun Hua"), ("文博", "Wen Bo"), ("思远", "Si Yuan"), ("嘉怡", "Jia Yi"),
            ("宇航", "Yu Hang"), ("晓东", "Xiao Dong"), ("国庆", "Guo Qing"), ("丽娟", "Li Juan"),
            ("俊杰", "Jun Jie"), ("子轩", "Zi Xuan"), ("梓涵", "Zi Han"), ("浩然", "Hao Ran"), ("欣怡", "Xin Yi"),
            ("明辉", "Ming Hui"), ("建华", "Jian Hua"), ("玉兰", "Yu Lan"), ("雪梅", "Xue Mei")]

# -- Latin with diacritics -----------------------------------------------------------------------

LATIN_GIVEN = ["Jürgen", "Björn", "Søren", "Łukasz", "José", "Françoise", "Jörg", "Ömer", "Şükrü", "Ağnès",
               "Zoë", "Màiri", "Ivó", "Ádám", "Zsófia", "Mátyás", "Tomáš", "Jiří", "Kristýna", "Małgorzata",
               "Wojciech", "Grzegorz", "Bartłomiej", "Gülşen", "Çağlar", "İsmail", "Øystein", "Åsa", "Sigurður",
               "Þóra", "Hélène", "Renée", "Inês", "João", "Conceição", "Ñuño", "Begoña", "Nguyễn Thị", "Đức",
               "Mārtiņš", "Jānis", "Līga", "Rūta", "Vytautas", "Dovilė", "Ştefan", "Ioana", "Răzvan", "Gérard",
               "Anaïs", "Loïc", "Sébastien", "Kübra", "Merve", "Aurélie", "Jean-Luc", "Ulrike", "Dagný", "Hörður",
               "Piotr"]
LATIN_FAMILY = ["Müller", "Weiß", "Öztürk", "Çelik", "Şahin", "Yılmaz", "Kılıç", "Doğan", "Ødegård",
                "Kierkegaard", "Sjöberg", "Åström", "Lindqvist", "Nørgaard", "Wiśniewski", "Wójcik",
                "Kowalczyk", "Lewandowski", "Dąbrowski", "Szymański", "Nováková", "Dvořák", "Černý", "Procházka",
                "Kovács", "Szabó", "Tóth", "Horváth", "Nagy", "Pérez", "Núñez", "Muñoz", "Peña", "Ibáñez",
                "Gonçalves", "Magalhães", "Brandão", "Lefèvre", "Gauthier", "Bérénice", "Château", "Lemaître",
                "Guðmundsson", "Þórsdóttir", "Jóhannesson", "Bērziņš", "Kalniņš", "Ozoliņa", "Jankauskas",
                "Petrauskienė", "Bălănescu", "Ţurcanu", "Popescu", "Trần", "Phạm", "Hoàng", "Schröder",
                "Köhler", "Krüger", "Mäkinen", "Hämäläinen", "Virtanen", "Kovačević", "Đorđević", "Jovanović",
                "Šimić", "Žagar", "Mlakar", "Vuković", "O'Connell"]


def _han_spellings(family: str, given: str) -> tuple[str, ...]:
    syllables = given.split()
    joined = "".join(syllables).capitalize()
    out = [f"{family} {joined}", f"{joined} {family}"]
    if len(syllables) > 1:
        out += [f"{family} {'-'.join(syllables)}", f"{family} {' '.join(syllables)}"]
    return tuple(out)


def _latin_spellings(text: str) -> tuple[str, ...]:
    import unicodedata
    stripped = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    stripped = stripped.replace("ß", "ss").replace("ø", "o").replace("Ø", "O").replace("ł", "l").replace("Ł", "L")
    stripped = stripped.replace("ı", "i").replace("đ", "d").replace("Đ", "D").replace("ð", "d").replace("Þ", "Th")
    stripped = stripped.replace("þ", "th")
    return tuple(dict.fromkeys([*variants(text)[:3], stripped]))


def person(culture: str, given: object, family: object, father: object = None) -> Person:
    """One person's name as written and as spelled, given name(s) first."""
    if culture == "ru":
        written = f"{given} {family}"
        spellings = (transliterate(written, "ru"), *(_cyrillic(written, s) for s in _RU_SYSTEMS))
        return Person(culture, written, "ru", tuple(dict.fromkeys(spellings)))
    if culture == "el":
        written = f"{given} {family}"
        spellings = (transliterate(written, "el"), *(_greek(written, s) for s in _EL_SYSTEMS))
        return Person(culture, written, "el", tuple(dict.fromkeys(spellings)))
    if culture == "ar":
        parts = [given, *([father] if father else []), family]
        written = " ".join(p[0] for p in parts)  # type: ignore[index]
        combos = [" ".join(p[1][i % len(p[1])] for p in parts) for i in range(4)]  # type: ignore[index]
        return Person(culture, written, "ar", tuple(dict.fromkeys(combos)))
    if culture == "zh":
        written = f"{family[0]}{given[0]}"  # type: ignore[index]
        return Person(culture, written, "zh-Hans", _han_spellings(family[1], given[1]))  # type: ignore[index]
    written = f"{given} {family}"
    return Person(culture, written, "", tuple(dict.fromkeys([*_latin_spellings(written)])))


def _all_people(rng: random.Random) -> dict[str, list[Person]]:
    """Every combination per culture, shuffled; Arabic names of three parts (given, father's,
    family), never the same two given names in the other order."""
    out = {
        "ru": [person("ru", g, f) for g in RU_GIVEN for f in RU_FAMILY],
        "el": [person("el", g, f) for g in EL_GIVEN for f in EL_FAMILY],
        "zh": [person("zh", g, f) for g in ZH_GIVEN for f in ZH_FAMILY],
        "latin": [person("latin", g, f) for g in LATIN_GIVEN for f in LATIN_FAMILY],
        "ar": [person("ar", AR_GIVEN[i], AR_FAMILY[k], AR_GIVEN[j]) for i in range(len(AR_GIVEN))
               for j in range(i + 1, len(AR_GIVEN)) for k in range(len(AR_FAMILY))],
    }
    for people in out.values():
        rng.shuffle(people)
    return out


QUOTAS = {"ru": 1500, "el": 600, "zh": 1100, "latin": 3600, "ar": 3200}  # 10,000 distinct names


@dataclass(frozen=True)
class NameSet:
    pairs: tuple[tuple[str, str, str, str], ...]  # (query, its language, alert name, its language)
    distinct: tuple[tuple[str, str], ...]  # (name, language)


def build(distinct: int = 10_000, pairs_per_culture: int = 300, seed: int = SEED) -> NameSet:
    """True pairs: a person's name as written against one of its Latin spellings, and two of its
    spellings against each other. Distinct names: other people from the same lists, each shown as
    written or in one of its spellings, at random."""
    rng = random.Random(seed)
    people = _all_people(rng)
    pair_list: list[tuple[str, str, str, str]] = []
    for culture, group in people.items():
        for p in group[:pairs_per_culture]:
            spelling = rng.choice(p.spellings)
            if rng.random() < 0.5:
                pair_list.append((spelling, "", p.written, p.language))
            else:
                a, b = (rng.sample(p.spellings, 2) if len(p.spellings) > 1 else (p.spellings[0],) * 2)
                pair_list.append((a, "", b, ""))
    scale = distinct / sum(QUOTAS.values())
    names: list[tuple[str, str]] = []
    short = 0
    for culture in ("ru", "el", "zh", "latin", "ar"):  # the largest pool last: it fills any shortfall
        pool = people[culture][pairs_per_culture:]
        take = min(len(pool), round(QUOTAS[culture] * scale) + short)
        short = round(QUOTAS[culture] * scale) + short - take
        for p in pool[:take]:
            shown = p.written if rng.random() < 0.5 else rng.choice(p.spellings)
            names.append((shown, p.language if shown == p.written else ""))
    return NameSet(tuple(pair_list), tuple(names[:distinct]))
