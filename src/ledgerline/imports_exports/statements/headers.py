"""Column header names banks use, in English, German, French, Spanish, Dutch and Italian.

Names are compared after ``normalize``: accents dropped, case folded, punctuation turned
into spaces. A header matches a role when it equals one of the role's names or contains
one as whole words; earlier names are preferred (a booking date over a value date).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Literal

Role = Literal[
    "date", "amount", "debit", "credit", "direction", "description", "category",
    "external_id", "currency",
]  # fmt: skip

# fmt: off
VOCABULARY: Final[dict[Role, tuple[str, ...]]] = {
    "date": (
        "date", "datum", "buchungstag", "buchungsdatum", "fecha", "data", "booking date",
        "posting date", "transaction date", "date operation", "date de comptabilisation",
        "fecha operacion", "fecha contable", "boekdatum", "transactiedatum", "data operazione",
        "data contabile", "completed date", "started date", "date valeur", "valutadatum",
        "wertstellung", "value date", "fecha valor", "data valuta", "rentedatum",
    ),
    "debit": (
        "debit", "debits", "soll", "ausgang", "ausgaben", "belastung", "withdrawal",
        "withdrawals", "money out", "paid out", "debit amount", "cargo", "cargos", "debe",
        "debet", "af", "uitgaven", "addebito", "addebiti", "uscite", "dare",
    ),
    "credit": (
        "credit", "credits", "haben", "eingang", "einnahmen", "gutschrift", "deposit",
        "deposits", "money in", "paid in", "credit amount", "abono", "abonos", "haber", "bij",
        "inkomsten", "accredito", "accrediti", "entrate", "avere",
    ),
    "direction": (
        "af bij", "debit credit", "credit debit", "soll haben", "s h", "cr dr", "dr cr", "d c",
        "debit credit indicator", "sens", "richting", "segno", "tipo movimiento", "dc",
    ),
    "amount": (
        "amount", "betrag", "umsatz", "montant", "importe", "bedrag", "importo",
        "transaction amount", "value", "wert", "valeur", "cantidad",
    ),
    "description": (
        "description", "payee", "name", "merchant", "counterparty", "memo", "details",
        "narrative", "transaction details", "verwendungszweck", "buchungstext",
        "beguenstigter zahlungspflichtiger", "empfanger", "auftraggeber", "zahlungsempfanger",
        "name zahlungsbeteiligter", "libelle", "libelle operation", "beneficiaire", "tiers",
        "concepto", "descripcion", "beneficiario", "omschrijving", "naam omschrijving",
        "mededelingen", "tegenpartij", "naam", "descrizione", "causale", "text",
    ),
    "category": (
        "category", "kategorie", "categorie", "categoria", "rubrik",
    ),
    "external_id": (
        "transaction id", "transaktions id", "transaktionsnummer", "id transaction",
        "identifiant", "id operazione", "referencia", "transactie id", "fitid", "id",
    ),
    "currency": (
        "currency", "wahrung", "devise", "moneda", "divisa", "valuta", "munteenheid",
    ),
}
DEBIT_TOKENS: Final = frozenset({
    "-", "addebito", "af", "cargo", "d", "db", "debet", "debit", "dr", "s", "soll", "uscita",
})
# fmt: on
_NOT_WORD: Final = re.compile(r"[^0-9a-z]+")


def normalize(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", plain.replace("ß", "ss")).strip()


EXACT_ONLY: Final = frozenset({"external_id"})
"""Roles matched by the whole header only (a "creditor ID" is no transaction id)."""


def rank(header: str, role: Role) -> tuple[int, int] | None:
    """How well ``header`` names ``role``, lower is better: an exact name beats a header
    containing the name; None is no match."""
    name = normalize(header)
    if not name:
        return None
    names = VOCABULARY[role]
    if name in names:
        return 0, names.index(name)
    if role in EXACT_ONLY:
        return None
    words = f" {name} "
    return next(((1, i) for i, term in enumerate(names) if f" {term} " in words), None)


def best_role(header: str) -> tuple[Role, tuple[int, int]] | None:
    ranked = [(rank(header, role), role) for role in VOCABULARY]
    found = [(r, role) for r, role in ranked if r is not None]
    if not found:
        return None
    position, role = min(found)
    return role, position
