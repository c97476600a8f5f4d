"""Display labels for stored codes (statuses, roles, colours, events). The codes stay English
in the database; these English labels are the message ids the catalogues translate."""

from __future__ import annotations

from app.i18n import N_, gettext, translate

LABELS: dict[str, dict[str, str]] = {
    "status": {
        "applied": N_("Applied"),
        "refused": N_("Not accepted"),
        "referred": N_("Referred elsewhere"),
        "withdrawn": N_("Withdrawn"),
        "registered": N_("Registered"),
        "dispatched": N_("Dispatched, awaiting acceptance"),
        "accepted": N_("Accepted by the mediator"),
        "scheduled": N_("Scheduled"),
        "agreement": N_("Agreement being signed"),
        "signed": N_("Agreement effective"),
        "filed": N_("Filed for judicial confirmation"),
        "confirmed": N_("Confirmed by the court"),
        "dismissed": N_("Dismissed by the court"),
        "concluded": N_("Outcome recorded"),
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
        "judge": N_("Judge"),
    },
    "agreement": {
        "signing": N_("Waiting for signatures"),
        "effective": N_("In effect"),
        "void": N_("Replaced by a newer version"),
        "sealing": N_("Signed by all, waiting for the committee's seal"),
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
    "channel": {
        "online": N_("Online application"),
        "walk_in": N_("Walk-in at the front desk"),
        "grid": N_("Reported by a grid worker"),
    },
    "authority": {
        "general": N_("General authority"),
        "special": N_("Special authority"),
    },
    "party_kind": {
        "person": N_("Person"),
        "organisation": N_("Organisation or other legal entity"),
    },
    "event": {
        "applied": N_("Application received"),
        "registered": N_("Case registered"),
        "red_alert": N_("Red alert sent to the tier above"),
        "booked": N_("Mediation session booked"),
        "appointment_cancelled": N_("Mediation session cancelled"),
        "links_reissued": N_("Invitation links reissued"),
        "room_opened": N_("Mediation room opened"),
        "room_chat": N_("Chat message in the mediation room"),
        "room_consent": N_("Recording consent given or withdrawn"),
        "room_recording_started": N_("Recording of the joint session started"),
        "room_recording_stopped": N_("Recording of the joint session stopped"),
        "room_ended": N_("Mediation session ended"),
        "room_recorded": N_("Recording of the joint session stored"),
        "agreement_drafted": N_("Agreement drafted"),
        "agreement_signed": N_("A signatory signed the agreement"),
        "agreement_effective": N_("Agreement took effect"),
        "filed": N_("Filed for judicial confirmation"),
        "confirmed": N_("The court confirmed the agreement"),
        "dismissed": N_("The court dismissed the application"),
        "evidence_added": N_("Evidence added"),
        "outcome_recorded": N_("Outcome recorded"),
        "closed": N_("Case closed"),
        "followup_recorded": N_("Follow-up visit recorded"),
        "performance_marked": N_("Performance of an obligation recorded"),
        "rated": N_("A party rated the handling"),
    },
    "outcome": {
        "written_agreement": N_("Written agreement"),
        "oral_agreement": N_("Oral agreement (recorded by the mediator)"),
        "terminated": N_("Mediation terminated"),
        "withdrawn": N_("Withdrawn by the applicant"),
        "referred": N_("Referred to another channel"),
    },
    "followup_method": {"phone": N_("By phone"), "visit": N_("Home visit"), "online": N_("Online")},
    "followup_result": {
        "resolved": N_("Settled; the parties are satisfied"),
        "issues": N_("Problems remain"),
        "unreachable": N_("Could not reach the parties"),
    },
    "performance": {
        "pending": N_("Due"),
        "performed": N_("Performed"),
        "not_performed": N_("Not performed"),
    },
}

# The desk (issue 6): triage, dispatch, clocks and alarms.
LABELS["event"].update(
    {
        "refused": N_("Not accepted for mediation"),
        "referred": N_("Referred to another channel"),
        "dispatched": N_("Dispatched"),
        "dispatch_accepted": N_("Accepted"),
        "dispatch_declined": N_("Dispatch declined"),
        "dispatch_expired": N_("Dispatch not acknowledged in time"),
        "escalated": N_("Escalated to the tier above"),
        "team_added": N_("Added to the case team"),
        "supervised": N_("Supervised by the tier above"),
        "clock_paused": N_("Deadline clock paused"),
        "clock_resumed": N_("Deadline clock resumed"),
        "deadline_extended": N_("Deadline extended"),
    }
)
LABELS["referral"] = {
    "court": N_("Court (litigation-mediation)"),
    "police": N_("Police (police-mediation)"),
    "petition": N_("Letters and visits office"),
    "administrative": N_("Administrative mediation"),
}
LABELS["team"] = {
    "expert": N_("Expert"),
    "mediator": N_("Co-mediator"),
    "lawyer": N_("Lawyer"),
    "observer": N_("Observer"),
}
LABELS["alarm"] = {
    "overdue": N_("Overdue"),
    "due_soon": N_("Deadline soon"),
    "red_case": N_("Red case registered below"),
    "dispatched": N_("Case dispatched to you"),
    "dispatch_declined": N_("Dispatch declined"),
    "dispatch_expired": N_("Dispatch not acknowledged in time"),
    "escalated": N_("Case escalated to you"),
    "supervision": N_("Supervision"),
    "followup_due": N_("Follow-up visit due"),
    "not_performed": N_("Obligation not performed by its deadline"),
}


# Issue 9 (drafting): the sex a party's basic information states (人民调解法 art. 29).
LABELS["sex"] = {"male": N_("Male"), "female": N_("Female")}
LABELS["change"] = {"added": N_("Added"), "removed": N_("Removed"), "changed": N_("Changed")}


def label(kind: str, code: str | None, locale: str | None = None) -> str:
    """The translated label of a stored code (in the request's locale unless one is given);
    the code itself if unknown."""
    if code is None:
        return ""
    message = LABELS.get(kind, {}).get(code)
    if message is None:
        return code
    return translate(message, locale) if locale else gettext(message)


# The roster and choice of mediator (issue 7).
LABELS["event"].update(
    {
        "mediator_chosen": N_("The party chose a mediator"),
        "auto_assigned": N_("Mediator chosen by the system"),
    }
)
LABELS["event"]["panel_member_replaced"] = N_("Replaced an expert of the panel")
# Issue 9, part 2: documents produced from a case, and their timeline events.
LABELS["case_document"] = {
    "minutes": N_("Mediation minutes"),
    "oral_agreement": N_("Record of an oral agreement (art. 28)"),
    "termination": N_("Termination notice (art. 26)"),
    "archive": N_("Case archive (卷宗)"),
}
LABELS["event"].update(
    {
        "minutes_recorded": N_("Minutes recorded"),
        "document_sealed": N_("Document produced and sealed"),
        "archive_requested": N_("Archive produced"),
    }
)
# Issue 10: the court's side of judicial confirmation (documents/court_review.py).
LABELS["filing"] = {
    "filed": N_("Filed, waiting for the court's review"),
    "supplement": N_("The court asks for a supplement"),
    "accepted": N_("Accepted by the court"),
    "not_accepted": N_("Not accepted by the court"),
    "confirmed": N_("Confirmed by the court"),
    "dismissed": N_("Dismissed by the court"),
    "withdrawn": N_("Withdrawn"),
}
LABELS["filing_next"] = {
    "filed": N_("Next: a court clerk reviews the application and accepts it or asks for more."),
    "supplement": N_("Next: the mediator sends the court what it asked for."),
    "accepted": N_("Next: a judge rules whether the agreement is valid."),
    "not_accepted": N_(
        "The agreement stays in effect. It may be filed again with the competent court while "
        "the 30 days run, or the parties may sue."
    ),
    "confirmed": N_(
        "The agreement is enforceable: if a party does not perform, the other may apply to the "
        "court for enforcement."
    ),
    "dismissed": N_(
        "The parties may change the agreement or reach a new one by mediation, or sue."
    ),
    "withdrawn": N_("The agreement stays in effect. It may be filed again while the 30 days run."),
}
LABELS["event"].update(
    {
        "court_accepted": N_("Accepted by the court"),
        "court_not_accepted": N_("Not accepted by the court"),
        "court_supplement": N_("The court asked for a supplement"),
        "court_resubmitted": N_("Supplement sent to the court"),
        "court_extended": N_("The court extended the time for its ruling"),
        "court_withdrawn": N_("Application for judicial confirmation withdrawn"),
        "ruling_sealed": N_("The court's ruling was sealed and served electronically"),
        "ruling_served": N_("Ruling received (electronic service)"),
        "application_prepared": N_("Joint application for judicial confirmation prepared"),
        "application_signed": N_("Joint application signed"),
        "application_signed_by_all": N_("Joint application signed by every party"),
        "application_declined": N_("Joint application declined"),
        "application_sealed": N_("Joint application sealed"),
    }
)
LABELS["application"] = {
    "signing": N_("Waiting for the parties' signatures"),
    "sealing": N_("Signed by every party, being sealed"),
    "sealed": N_("Signed and sealed, ready to file"),
    "void": N_("Replaced"),
}
LABELS["court_basis"] = {
    "mediation_org": N_("The basic court where the mediation organisation is"),
    "domicile": N_("The court of a party's domicile"),
    "subject": N_("The court where the subject matter is"),
}
