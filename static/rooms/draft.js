// @ts-check
/**
 * Review in the room (issue 9): the case's current agreement draft, read from the documents
 * package's API (`GET /api/v1/cases/{id}/draft`), shown to everyone in the room and refreshed
 * every few seconds while the panel is open, so it follows the mediator's edits. A party asks
 * for a change on one clause (`POST …/draft/change-requests`, bound to the version on screen);
 * the mediator sees the requests under the terms.
 */

/** @typedef {import("./room.js").Room} Room */
/** @typedef {{clause: number, text: string, amount?: string | null, amount_upper?: string | null, payer?: string | null, payee?: string | null, deadline?: string | null, manner?: string | null}} Term */
/** @typedef {{id: number, clause: number, text: string, requester: string}} ChangeRequest */
/** @typedef {{version: number, version_hash: string, status: string, terms: Term[], change_requests: ChangeRequest[]}} Draft */

export const REFRESH_MS = 4000;

/** @param {Room} room */
export function install(room) {
  const { $, t, config } = room;
  const panel = $("draft-panel");
  const toggle = $("draft-button");
  const list = $("draft-terms");
  const requests = $("draft-requests");
  const isParty = config.role === "party";
  const path = `/api/v1/cases/${config.caseId}/draft`;
  /** @type {Draft | null} */
  let draft = null;
  let shownKey = "";
  /** @type {ReturnType<typeof setInterval> | null} */
  let timer = null;

  async function load() {
    try {
      const response = await fetch(path, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const body = await response.json();
      draft = body.agreement;
      render();
    } catch {
      // offline for a moment: the next refresh tries again
    }
  }

  /** @param {Term} term */
  function details(term) {
    const parts = [];
    if (term.amount) parts.push(t("draftAmount", { amount: term.amount, upper: term.amount_upper || "" }));
    if (term.payer) parts.push(t("draftPayer", { name: term.payer }));
    if (term.payee) parts.push(t("draftPayee", { name: term.payee }));
    if (term.deadline) parts.push(t("draftDeadline", { date: term.deadline }));
    if (term.manner) parts.push(term.manner);
    return parts.join(" · ");
  }

  function render() {
    const key = draft ? `${draft.version_hash}:${draft.status}:${draft.change_requests.length}` : "none";
    if (key === shownKey) return; // unchanged: keep what a party is typing
    shownKey = key;
    $("draft-version").textContent = draft
      ? t("draftVersion", { version: String(draft.version), hash: draft.version_hash.slice(0, 12) })
      : t("draftNone");
    panel.dataset.version = draft ? String(draft.version) : "";
    list.replaceChildren(...(draft ? draft.terms.map(term) : []));
    requests.replaceChildren(...(draft && !isParty ? draft.change_requests.map(request) : []));
    requests.hidden = !draft || isParty || draft.change_requests.length === 0;
  }

  /** @param {Term} item */
  function term(item) {
    const li = document.createElement("li");
    li.dataset.clause = String(item.clause);
    const text = document.createElement("p");
    text.textContent = item.text;
    li.append(text);
    const more = details(item);
    if (more) {
      const line = document.createElement("p");
      line.className = "muted term-details";
      line.textContent = more;
      li.append(line);
    }
    if (isParty && draft?.status === "signing") li.append(askForm(item.clause));
    return li;
  }

  /** @param {number} clause */
  function askForm(clause) {
    const details = document.createElement("details");
    details.className = "ask-change";
    const summary = document.createElement("summary");
    summary.textContent = t("draftAsk");
    const form = document.createElement("form");
    const text = document.createElement("textarea");
    text.name = "text";
    text.maxLength = 500;
    text.required = true;
    text.setAttribute("aria-label", t("draftAskLabel", { clause: String(clause) }));
    const send = document.createElement("button");
    send.type = "submit";
    send.textContent = t("draftSend");
    form.append(text, send);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!draft) return;
      const csrf = /** @type {HTMLMetaElement | null} */ (document.querySelector('meta[name="csrf-token"]'));
      const response = await fetch(`${path}/change-requests`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "X-CSRF-Token": csrf?.content || "",
          "Idempotency-Key": crypto.randomUUID(),
        },
        body: JSON.stringify({ version_hash: draft.version_hash, clause, text: text.value }),
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        text.value = "";
        details.open = false;
        room.notice(t("draftAsked"));
      } else {
        room.notice(body.messages?.[config.locale] || body.messages?.en || t("draftFailed"));
      }
    });
    details.append(summary, form);
    return details;
  }

  /** @param {ChangeRequest} item */
  function request(item) {
    const li = document.createElement("li");
    li.dataset.request = String(item.id);
    li.textContent = t("draftRequest", { clause: String(item.clause), name: item.requester, text: item.text });
    return li;
  }

  /** @param {boolean} open */
  function show(open) {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (timer) clearInterval(timer);
    timer = null;
    if (open) {
      load();
      timer = setInterval(load, REFRESH_MS);
    }
  }

  toggle.addEventListener("click", () => show(panel.hidden));
  Object.assign(/** @type {any} */ (window).mediationRoom, { draft: () => draft });
}
