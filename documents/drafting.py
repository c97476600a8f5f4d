"""The drafting form of an agreement, read and checked (人民调解法 art. 29): the parties' details,
the facts, disputed matters and responsibilities, structured terms and free clauses.

Everything here is printed and signed exactly as it leaves ``read_draft``: white space is settled
where it is typed and unprintable characters are refused (app/printable.py), never rewritten later.
A structured term is text plus optional amount, payer, payee, deadline and manner of performance;
a free clause is text alone. Form fields: ``term-<i>-text|amount|payer|payee|deadline|manner``,
``party-<id>-sex|ethnicity|birth_date|occupation|address|agent_name|agent_authority``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from app.db import utcnow
from app.errors import ValidationFailed
from app.i18n import N_, SHANGHAI
from app.printable import UNPRINTABLE, single_spaced, unprintable
from documents.amounts import parse_amount

_FIGURES = re.compile(r"[0-9][0-9,，]*(\.[0-9]{1,2})?")
MAX_TERMS = 50
TERM_ROWS = 30  # structured term rows the form may post (free clauses come on top of them)
SEXES = ("male", "female")
AUTHORITIES = ("general", "special")
MAX_AMOUNT = Decimal("10000000000")  # ten billion yuan: a typo beyond this, not an agreement
PARTY_FIELDS = (
    "sex",
    "ethnicity",
    "birth_date",
    "occupation",
    "address",
    "agent_name",
    "agent_authority",
)
TERM_FIELDS = ("text", "amount", "payer", "payee", "deadline", "manner")
TEXT_LIMITS = {"facts": 10_000, "disputes": 10_000, "responsibility": 10_000}

FACTS = N_("Please describe the facts in 10 to 10000 characters.")
TOO_LONG = N_("This text is too long.")
TERMS = N_("Please write 1 to 50 terms, one per line.")
TERM_TEXT = N_("Please write the term's text.")
PERFORMANCE = N_("Please say how the agreement will be performed.")
DEADLINE = N_("Please enter the performance deadline as a date.")
PAST = N_("The performance deadline cannot be in the past.")
AMOUNT = N_("Please give the amount in yuan with at most two decimals, e.g. 8000 or 8000.50.")
PAYER_PAYEE = N_("Please choose the payer and the payee among the parties of the case.")
SAME_PARTY = N_("The payer and the payee must be different parties.")
PAYER_NEEDED = N_("An amount needs a payer and a payee.")
SEX = N_("Please choose the sex.")
BIRTH_DATE = N_("Please enter the date of birth as a date in the past.")
AUTHORITY = N_("Please state the agent's authority (general or special).")
AGENT_NAME = N_("Please give the agent's name.")


@dataclass(frozen=True)
class Term:
    text: str
    amount: Decimal | None = None
    payer: int | None = None  # party ids of the case
    payee: int | None = None
    deadline: date | None = None
    manner: str = ""
    row: int = field(default=0, compare=False)  # the form's row, for its error messages

    def as_content(self) -> dict[str, object]:
        return {
            "amount": f"{self.amount:.2f}" if self.amount is not None else None,
            "payer": self.payer,
            "payee": self.payee,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "manner": self.manner,
        }


@dataclass(frozen=True)
class PartyDetails:
    sex: str = ""
    ethnicity: str = ""
    birth_date: date | None = None
    occupation: str = ""  # occupation or employer (职业或工作单位)
    address: str = ""
    agent_name: str = ""
    agent_authority: str = ""


@dataclass(frozen=True)
class Draft:
    facts: str
    terms: tuple[str, ...]  # structured terms' texts first, then the free clauses
    performance: str
    performance_deadline: date
    disputes: str = ""
    responsibility: str = ""
    structured: tuple[Term, ...] = ()  # details of terms[: len(structured)]
    parties: Mapping[int, PartyDetails] = field(default_factory=dict)


def _text(form: Mapping[str, str], name: str) -> str:
    return single_spaced(form.get(name, ""))


def _line(form: Mapping[str, str], name: str, limit: int, errors: dict[str, str]) -> str:
    value = " ".join(_text(form, name).split("\n"))
    if len(value) > limit:
        errors[name] = TOO_LONG
    elif unprintable(value) is not None:
        errors[name] = UNPRINTABLE
    return value


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip()) if len(raw.strip()) == 10 else None
    except ValueError:
        return None


def _party_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) <= 9 else None


def _read_term(form: Mapping[str, str], i: int, today: date, errors: dict[str, str]) -> Term | None:
    name = f"term-{i}-"
    if not any(form.get(name + f, "").strip() for f in TERM_FIELDS):
        return None
    text = _line(form, name + "text", 1000, errors)
    if not text and name + "text" not in errors:
        errors[name + "text"] = TERM_TEXT
    amount = None
    if raw := form.get(name + "amount", "").strip():
        try:
            # Figures only ("1e3" and "NaN" are Decimals too, but not amounts people write).
            amount = parse_amount(raw) if _FIGURES.fullmatch(raw) else None
        except ValueError:
            amount = None
        if amount is None or not 0 < amount < MAX_AMOUNT:
            errors[name + "amount"] = AMOUNT
    payer, payee = (_party_id(form.get(name + f, "").strip()) for f in ("payer", "payee"))
    for f, value in (("payer", payer), ("payee", payee)):
        if form.get(name + f, "").strip() and value is None:
            errors[name + f] = PAYER_PAYEE
    if payer is not None and payer == payee:
        errors[name + "payee"] = SAME_PARTY
    if amount is not None and (payer is None or payee is None):
        errors.setdefault(name + "payer", PAYER_NEEDED)
    deadline = None
    if raw := form.get(name + "deadline", "").strip():
        deadline = _date(raw)
        if deadline is None:
            errors[name + "deadline"] = DEADLINE
        elif deadline < today:
            errors[name + "deadline"] = PAST
    manner = _line(form, name + "manner", 200, errors)
    return Term(text, amount, payer, payee, deadline, manner, row=i)


def _party_ids(form: Mapping[str, str]) -> list[int]:
    ids = set()
    for key in form:
        head, _, rest = key.partition("-")
        ident, _, _ = rest.partition("-")
        if head == "party" and (value := _party_id(ident)) is not None:
            ids.add(value)
    return sorted(ids)


def _read_party(
    form: Mapping[str, str], pid: int, today: date, errors: dict[str, str]
) -> PartyDetails:
    name = f"party-{pid}-"
    sex = form.get(name + "sex", "").strip()
    if sex and sex not in SEXES:
        errors[name + "sex"] = SEX
    birth = None
    if raw := form.get(name + "birth_date", "").strip():
        birth = _date(raw)
        if birth is None or not date(1900, 1, 1) <= birth <= today:
            errors[name + "birth_date"] = BIRTH_DATE
    authority = form.get(name + "agent_authority", "").strip()
    agent = _line(form, name + "agent_name", 64, errors)
    if (authority and authority not in AUTHORITIES) or (agent and not authority):
        errors[name + "agent_authority"] = AUTHORITY
    if authority and not agent:
        errors.setdefault(name + "agent_name", AGENT_NAME)
    return PartyDetails(
        sex=sex,
        ethnicity=_line(form, name + "ethnicity", 16, errors),
        birth_date=birth,
        occupation=_line(form, name + "occupation", 100, errors),
        address=_line(form, name + "address", 200, errors),
        agent_name=agent,
        agent_authority=authority if agent else "",
    )


def read_draft(form: Mapping[str, str]) -> tuple[Draft, dict[str, str]]:
    """The draft as typed and the problems with it (field → message id). The preview shows a
    draft with problems; ``check_draft`` refuses it."""
    errors: dict[str, str] = {}
    today = utcnow().astimezone(SHANGHAI).date()
    facts = _text(form, "facts")
    if not 10 <= len(facts) <= TEXT_LIMITS["facts"]:
        errors["facts"] = FACTS
    prose = {name: _text(form, name) for name in ("disputes", "responsibility")}
    for name, value in prose.items():
        if len(value) > TEXT_LIMITS[name]:
            errors[name] = TOO_LONG
    structured = tuple(
        term for i in range(TERM_ROWS) if (term := _read_term(form, i, today, errors)) is not None
    )
    free = tuple(line for line in _text(form, "terms").splitlines() if line)
    terms = tuple(t.text for t in structured) + free
    if not 1 <= len(terms) <= MAX_TERMS or any(len(t) > 1000 for t in free):
        errors["terms"] = TERMS
    performance = _text(form, "performance")
    if not 2 <= len(performance) <= 1000:
        errors["performance"] = PERFORMANCE
    for name, value in {"facts": facts, "terms": "\n".join(free), **prose}.items():
        if unprintable(value) is not None:
            errors[name] = UNPRINTABLE
    if unprintable(performance) is not None:
        errors["performance"] = UNPRINTABLE
    deadline = _date(form.get("performance_deadline", ""))
    if deadline is None:
        errors["performance_deadline"] = DEADLINE
    elif deadline < today:
        errors["performance_deadline"] = PAST
    parties = {pid: _read_party(form, pid, today, errors) for pid in _party_ids(form)}
    draft = Draft(
        facts=facts,
        terms=terms,
        performance=performance,
        performance_deadline=deadline or today,
        disputes=prose["disputes"],
        responsibility=prose["responsibility"],
        structured=structured,
        parties=parties,
    )
    return draft, errors


def check_draft(form: Mapping[str, str]) -> Draft:
    """The draft as it will be signed and printed, or ValidationFailed naming each bad field."""
    draft, errors = read_draft(form)
    if errors:
        raise ValidationFailed(errors)
    return draft


def check_parties(draft: Draft, party_ids: set[int]) -> None:
    """Payers, payees and detailed parties must be the case's own parties."""
    errors: dict[str, str] = {}
    for term in draft.structured:
        for name, value in (("payer", term.payer), ("payee", term.payee)):
            if value is not None and value not in party_ids:
                errors[f"term-{term.row}-{name}"] = PAYER_PAYEE
    if set(draft.parties) - party_ids:
        errors["parties"] = PAYER_PAYEE
    if errors:
        raise ValidationFailed(errors)
