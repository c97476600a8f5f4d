"""Display labels for stored codes (statuses, roles, colours, events). The codes stay English
in the database; these English labels are the message ids the catalogues translate."""

from __future__ import annotations

from app.i18n import N_, gettext, translate

LABELS: dict[str, dict[str, str]] = {
    "status": {
        "applied": N_("Applied"),
        "registered": N_("Registered"),
        "scheduled": N_("Scheduled"),
        "agreement": N_("Agreement being signed"),
        "signed": N_("Agreement effective"),
        "filed": N_("Filed for judicial confirmation"),
        "confirmed": N_("Confirmed by the court"),
        "dismissed": N_("Dismissed by the court"),
        "closed": N_("Closed"),
    },
    "role": {
        "applicant": N_("Applicant"),
        "respondent": N_("Respondent"),
        "admin": N_("Administrator"),
        "coordinator": N_("Coordinator"),
        "mediator": N_("Mediator"),
        "expert": N_("Expert"),
        "court_clerk": N_("Court clerk"),
    },
    "agreement": {
        "signing": N_("Waiting for signatures"),
        "effective": N_("In effect"),
        "void": N_("Replaced by a newer version"),
    },
    "risk": {"red": N_("Red"), "yellow": N_("Yellow"), "blue": N_("Blue")},
    "complexity": {
        "simple": N_("Simple"),
        "general": N_("General"),
        "complex": N_("Complex"),
        "difficult": N_("Difficult"),
    },
    "tier": {"village": N_("Village"), "town": N_("Town or street"), "district": N_("District")},
    "dispute": {
        "family": N_("Marriage and family"),
        "neighbour": N_("Neighbours"),
        "homestead": N_("Housing and homestead"),
        "land": N_("Forest and land"),
        "lending": N_("Private lending"),
        "damages": N_("Damages"),
        "labour": N_("Labour"),
        "property_mgmt": N_("Property management"),
        "medical": N_("Medical"),
        "traffic": N_("Traffic accident"),
        "consumer": N_("Consumer"),
        "demolition": N_("Requisition and demolition"),
        "environment": N_("Environmental pollution"),
        "contract": N_("Contract"),
        "other": N_("Other"),
    },
    "event": {
        "applied": N_("Application received"),
        "registered": N_("Case registered"),
        "red_alert": N_("Red alert sent to the tier above"),
        "booked": N_("Mediation session booked"),
        "appointment_cancelled": N_("Mediation session cancelled"),
        "links_reissued": N_("Invitation links reissued"),
        "room_opened": N_("Mediation room opened"),
        "agreement_drafted": N_("Agreement drafted"),
        "agreement_signed": N_("A signatory signed the agreement"),
        "agreement_effective": N_("Agreement took effect"),
        "filed": N_("Filed for judicial confirmation"),
        "confirmed": N_("The court confirmed the agreement"),
        "dismissed": N_("The court dismissed the application"),
    },
}


def label(kind: str, code: str | None, locale: str | None = None) -> str:
    """The translated label of a stored code (in the request's locale unless one is given);
    the code itself if unknown."""
    if code is None:
        return ""
    message = LABELS.get(kind, {}).get(code)
    if message is None:
        return code
    return translate(message, locale) if locale else gettext(message)
