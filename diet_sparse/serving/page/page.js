// diet-sparse's chat page: the chat (Rasa's REST channel), the inspector of a turn (the parse,
// the policy that chose each action with its scores, slots and events) and interactive learning
// (corrections, saving or downloading the conversation as Rasa YAML). It talks only to the
// server that served it (Rasa's REST channel, /status, /inspector/domain and
// /conversations/{id}/...); nothing is fetched from anywhere else.
"use strict";

// --- state --------------------------------------------------------------------------------------

const STORAGE = { token: "diet-sparse.token", sender: "diet-sparse.sender" };
const ACTION_LISTEN = "action_listen";
const FALLBACK_ACTIONS = ["action_default_fallback", "action_two_stage_fallback"];
const MAX_INTENT_BARS = 10;

const state = {
  senderId: null, // the conversation's sender id (random, kept for this browser tab)
  token: sessionStorage.getItem(STORAGE.token), // the server's --auth-token, once asked
  status: null, // GET /status
  domain: null, // GET /inspector/domain: the names corrections choose from
  turns: [], // GET /conversations/{id}/turns: the turns of this conversation
  selectedTurn: null, // the turn number shown in the inspector
  selection: null, // {start, end} of text selected in the inspected message
  buttonTitles: new Map(), // button payload -> title, to show what the user clicked
  queue: Promise.resolve(), // messages and corrections run one after another
  busy: 0, // requests under way (shown as <body data-busy>)
};

// Timings the browser tests read: the page load (navigation start to the end of the load
// event, from the Navigation Timing entry) and, per message, the time from sending it to its
// answer being in the page (answerMs) and to its turn being shown in the inspector
// (inspectorMs), both with performance.now().
window.dietSparseTimings = { pageLoadMs: null, responseToLoadMs: null, readyMs: null, turns: [] };

// --- small helpers ------------------------------------------------------------------------------

const $ = (selector) => document.querySelector(selector);

/** An element with attributes (on* are listeners) and children (strings become text). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return node;
}

const percent = (value) => `${(100 * value).toFixed(1)}%`;
const score = (value) => (typeof value === "number" ? value.toFixed(3) : "–");
const nextFrame = () =>
  new Promise((resolve) => {
    requestAnimationFrame(() => resolve());
    setTimeout(resolve, 100); // hidden tabs get no animation frames
  });

function newSenderId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8)); // works outside secure contexts too
  return "page-" + Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function conversationPath(suffix) {
  return `conversations/${encodeURIComponent(state.senderId)}/${suffix}`;
}

function setBusy(change) {
  state.busy += change;
  document.body.dataset.busy = state.busy > 0 ? "true" : "false";
}

function showError(error) {
  const box = $("#chat-error");
  box.textContent = error ? String(error.message || error) : "";
  box.hidden = !error;
}

// --- the server's API ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    const detail = body && body.detail !== undefined ? body.detail : body;
    const text = typeof detail === "string" ? detail : JSON.stringify(detail);
    super(`${status} ${body && body.error ? body.error : "error"}: ${text}`);
    this.status = status;
    this.body = body;
  }
}

/** Calls the API at `path` (relative to the page) with the token; a 401 asks for the token and
 * tries again. Answers the decoded JSON, or the Response itself with {raw: true}. */
async function api(method, path, body, { raw = false } = {}) {
  setBusy(+1);
  try {
    for (;;) {
      const headers = {};
      const token = state.token;
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.status === 401) {
        if (state.token !== token) continue; // a token came while this call was under way
        const refused = token ? "The server refused that token: enter it again." : null;
        state.token = await askForToken(refused);
        continue;
      }
      if (!response.ok) {
        const text = await response.text();
        let decoded = text;
        try {
          decoded = JSON.parse(text);
        } catch (ignored) {
          // not JSON: the text is the detail
        }
        throw new ApiError(response.status, decoded);
      }
      return raw ? response : response.json();
    }
  } finally {
    setBusy(-1);
  }
}

/** The turns of this conversation (GET /conversations/{id}/turns). */
async function loadTurns() {
  const answer = await api("GET", conversationPath("turns"));
  return answer.turns;
}

// --- the token ----------------------------------------------------------------------------------

let tokenRequest = null; // one question at a time, however many calls were refused

/** Asks for the server's token in the page's dialog (not window.prompt), with `message` saying
 * why when a token was refused; resolves with the token, kept for this tab. */
function askForToken(message) {
  if (tokenRequest) return tokenRequest;
  tokenRequest = new Promise((resolve) => {
    const dialog = $("#token-dialog");
    const form = $("#token-form");
    const input = $("#token-input");
    $("#token-message").textContent =
      message || "Enter the token the server was started with (--auth-token).";
    $("#token-message").classList.toggle("error", Boolean(message));
    input.value = "";
    form.addEventListener(
      "submit",
      (event) => {
        event.preventDefault();
        const token = input.value.trim();
        sessionStorage.setItem(STORAGE.token, token);
        dialog.close();
        tokenRequest = null;
        resolve(token);
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
  return tokenRequest;
}

// --- the chat -----------------------------------------------------------------------------------

/** A user's bubble: what they typed, or the title of the button they clicked. */
function userBubble(text, turn) {
  const title = state.buttonTitles.get(text);
  const corrected = turn && turn.user && turn.user.corrected;
  const reverted = turn && turn.user && turn.user.reverted;
  return el(
    "li",
    {
      class: "bubble user" + (corrected ? " corrected" : ""),
      title: title !== undefined ? `payload: ${text}` : null,
      dataset: turn ? { turn: turn.turn } : {},
      tabindex: turn ? "0" : null,
    },
    el("span", { class: "text" }, title !== undefined ? title : text),
    corrected ? el("span", { class: "flag" }, "corrected") : null,
    reverted ? el("span", { class: "flag" }, "taken back") : null,
  );
}

/** One REST channel message of the bot: text, buttons, image, custom payload, attachment. */
function botBubble(message, turnNumber) {
  const parts = [];
  if (message.text) parts.push(el("p", { class: "text" }, message.text));
  if (message.image)
    parts.push(el("img", { class: "image", src: message.image, alt: "image sent by the bot" }));
  if (Array.isArray(message.buttons) && message.buttons.length) {
    parts.push(
      el(
        "div",
        { class: "buttons" },
        message.buttons.map((button) =>
          el(
            "button",
            {
              type: "button",
              class: "choice",
              title: `payload: ${button.payload}`,
              onclick: (event) => {
                event.stopPropagation();
                send(button.payload, button.title);
              },
            },
            button.title,
          ),
        ),
      ),
    );
  }
  if ("custom" in message)
    parts.push(el("pre", { class: "custom" }, JSON.stringify(message.custom, null, 2)));
  if ("attachment" in message) parts.push(attachment(message.attachment));
  return el(
    "li",
    {
      class: "bubble bot",
      dataset: turnNumber === null ? {} : { turn: turnNumber },
      tabindex: turnNumber === null ? null : "0",
    },
    parts,
  );
}

function attachment(value) {
  if (typeof value === "string" && /^(https?:|data:)/.test(value)) {
    return el(
      "a",
      { class: "attachment", href: value, target: "_blank", rel: "noopener" },
      "attachment",
    );
  }
  return el("pre", { class: "attachment" }, JSON.stringify(value, null, 2));
}

/** An action that said nothing (a form, a custom action, a slot set) as a small line. */
function actionLine(action, turnNumber) {
  return el(
    "li",
    {
      class: "action-line" + (action.rejected ? " rejected" : ""),
      dataset: { turn: turnNumber },
      tabindex: "0",
    },
    el("code", {}, action.action),
    action.rejected ? " (rejected)" : null,
  );
}

/** The whole conversation, drawn again from its turns. */
function renderChat() {
  const list = $("#messages");
  const items = [];
  for (const turn of state.turns) {
    if (turn.user) items.push(userBubble(turn.user.text, turn));
    const validation = turn.validation_messages || [];
    items.push(...validation.map((message) => botBubble(message, turn.turn)));
    for (const action of turn.actions) {
      if (action.messages && action.messages.length) {
        items.push(...action.messages.map((message) => botBubble(message, turn.turn)));
      } else if (action.action !== ACTION_LISTEN) {
        items.push(actionLine(action, turn.turn));
      }
    }
  }
  list.replaceChildren(...items);
  markSelected();
  list.scrollTop = list.scrollHeight;
}

/** Sends `text` (or a button's payload, shown as its `title`) and shows the answer, then its
 * turn in the inspector. */
function send(text, title) {
  state.queue = state.queue.then(() => sendNow(text, title)).catch(showError);
  return state.queue;
}

async function sendNow(text, title) {
  showError(null);
  const started = performance.now();
  if (title !== undefined) state.buttonTitles.set(text, title);
  const list = $("#messages");
  list.append(userBubble(text, null));
  list.scrollTop = list.scrollHeight;
  const messages = await api("POST", "webhooks/rest/webhook", {
    sender: state.senderId,
    message: text,
  });
  list.append(...messages.map((message) => botBubble(message, null)));
  list.scrollTop = list.scrollHeight;
  await nextFrame();
  const answerMs = performance.now() - started;
  state.turns = await loadTurns();
  renderChat();
  selectTurn(state.turns.length ? state.turns[state.turns.length - 1].turn : null);
  await nextFrame();
  window.dietSparseTimings.turns.push({
    message: text,
    answerMs,
    inspectorMs: performance.now() - started,
  });
  refreshStory();
}

function startConversation(senderId) {
  state.senderId = senderId;
  sessionStorage.setItem(STORAGE.sender, senderId);
  state.turns = [];
  state.selectedTurn = null;
  state.buttonTitles.clear();
  $("#sender-id").textContent = senderId;
  $("#messages").replaceChildren();
  $("#learning-result").replaceChildren();
  $("#story-text").textContent = "";
  renderInspector(null);
}

// --- the inspector: which turn ------------------------------------------------------------------

function selectTurn(turnNumber) {
  state.selectedTurn = turnNumber;
  state.selection = null;
  markSelected();
  renderInspector(state.turns.find((turn) => turn.turn === turnNumber) || null);
}

function markSelected() {
  for (const item of document.querySelectorAll("#messages [data-turn]")) {
    item.classList.toggle("selected", Number(item.dataset.turn) === state.selectedTurn);
  }
}

function renderInspector(turn) {
  const body = $("#inspector-body");
  if (!turn) {
    body.replaceChildren(
      el(
        "p",
        { class: "hint" },
        "Say something, then click a message to see how the bot understood it and why it answered.",
      ),
    );
    return;
  }
  body.replaceChildren(
    el(
      "h3",
      { id: "turn-heading" },
      turn.user ? `Turn ${turn.turn}` : `Turn ${turn.turn}: before the first message`,
    ),
    turn.user ? messageSection(turn) : null,
    turn.user ? intentSection(turn) : null,
    turn.user ? entitiesSection(turn) : null,
    actionsSection(turn),
    slotsSection(turn),
    el(
      "details",
      { class: "events" },
      el("summary", {}, `Raw events (${turn.events.length})`),
      el("pre", {}, JSON.stringify(turn.events, null, 2)),
    ),
  );
}

// --- the inspector: the message and its entities ------------------------------------------------

function entityLabel(entity) {
  return [
    entity.entity,
    entity.role && `role ${entity.role}`,
    entity.group && `group ${entity.group}`,
  ]
    .filter(Boolean)
    .join(" · ");
}

function entityHover(entity) {
  const lines = [`${entityLabel(entity)}`, `value: ${JSON.stringify(entity.value)}`];
  if (typeof entity.confidence_entity === "number")
    lines.push(`confidence: ${score(entity.confidence_entity)}`);
  if (entity.extractor) lines.push(`extractor: ${entity.extractor}`);
  if (entity.processors && entity.processors.length)
    lines.push(`processors: ${entity.processors.join(", ")}`);
  return lines.join("\n");
}

/** The message's text with each entity marked where it is (overlapping ones: the first). */
function highlightedText(text, entities) {
  const parts = [];
  let at = 0;
  const ordered = [...entities].sort((a, b) => a.start - b.start || b.end - a.end);
  for (const entity of ordered) {
    if (entity.start < at || entity.end > text.length || entity.end <= entity.start) continue;
    parts.push(text.slice(at, entity.start));
    parts.push(
      el(
        "mark",
        {
          class: "entity",
          title: entityHover(entity),
          dataset: {
            entity: entity.entity,
            label: entityLabel(entity),
            role: entity.role,
            group: entity.group,
          },
        },
        text.slice(entity.start, entity.end),
      ),
    );
    at = entity.end;
  }
  parts.push(text.slice(at));
  return parts.filter((part) => part !== "");
}

function messageSection(turn) {
  const user = turn.user;
  const flags = [
    user.corrected ? "corrected" : null,
    user.reverted ? "taken back (fallback)" : null,
  ].filter(Boolean);
  const message = el(
    "p",
    { id: "inspected-message", class: "inspected-message" },
    highlightedText(user.text, user.entities),
  );
  return el(
    "section",
    { class: "panel", "aria-labelledby": "message-heading" },
    el(
      "h4",
      { id: "message-heading" },
      "Message",
      flags.map((flag) => el("span", { class: "flag" }, flag)),
    ),
    message,
  );
}

function entitiesSection(turn) {
  return el(
    "section",
    { class: "panel", "aria-labelledby": "entities-heading" },
    el("h4", { id: "entities-heading" }, "Entities"),
    entityTable(turn),
    entityForm(turn),
  );
}

function entityTable(turn) {
  const entities = turn.user.entities;
  if (!entities.length) return el("p", { class: "muted" }, "No entities.");
  return el(
    "table",
    { class: "entities" },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        ["Text", "Entity", "Role", "Group", "Value", "Confidence", ""].map((name) =>
          el("th", { scope: "col" }, name),
        ),
      ),
    ),
    el(
      "tbody",
      {},
      entities.map((entity, index) =>
        el(
          "tr",
          {},
          el("td", {}, turn.user.text.slice(entity.start, entity.end)),
          el("td", {}, entity.entity),
          el("td", {}, entity.role || ""),
          el("td", {}, entity.group || ""),
          el(
            "td",
            {},
            typeof entity.value === "string" ? entity.value : JSON.stringify(entity.value),
          ),
          el("td", {}, score(entity.confidence_entity)),
          el(
            "td",
            {},
            el(
              "button",
              {
                type: "button",
                class: "small remove-entity",
                "aria-label": `Remove entity ${entity.entity}`,
                onclick: () =>
                  correctEntities(
                    turn,
                    entities.filter((_, other) => other !== index),
                  ),
              },
              "Remove",
            ),
          ),
        ),
      ),
    ),
  );
}

/** Add an entity: select words of the message, pick a type (and a role, a group). */
function entityForm(turn) {
  const names = domainList("entities", state.status && state.status.entity_types);
  const selected = el(
    "span",
    { id: "selected-span", class: "muted" },
    "Select words of the message above.",
  );
  const type = el(
    "select",
    { id: "entity-type" },
    names.map((name) => el("option", { value: name }, name)),
  );
  const role = el(
    "select",
    { id: "entity-role" },
    el("option", { value: "" }, "(none)"),
    domainList("roles").map((name) => el("option", { value: name }, name)),
  );
  const group = el(
    "select",
    { id: "entity-group" },
    el("option", { value: "" }, "(none)"),
    domainList("groups").map((name) => el("option", { value: name }, name)),
  );
  const add = el(
    "button",
    {
      type: "button",
      id: "add-entity",
      disabled: true,
      onclick: () => {
        const span = state.selection;
        if (!span || !type.value) return;
        const entity = { start: span.start, end: span.end, entity: type.value };
        if (role.value) entity.role = role.value;
        if (group.value) entity.group = group.value;
        correctEntities(turn, [
          ...turn.user.entities.filter((e) => e.end <= span.start || e.start >= span.end),
          entity,
        ]);
      },
    },
    "Add entity",
  );
  return el(
    "fieldset",
    { class: "correction" },
    el("legend", {}, "Add an entity"),
    el("p", {}, "Selected: ", selected),
    el("label", { for: "entity-type" }, "Entity "),
    type,
    el("label", { for: "entity-role" }, " Role "),
    role,
    el("label", { for: "entity-group" }, " Group "),
    group,
    " ",
    add,
  );
}

/** Keeps the characters selected in the inspected message as state.selection {start, end}. */
function trackSelection() {
  const message = $("#inspected-message");
  const shown = $("#selected-span");
  const add = $("#add-entity");
  if (!message || !shown || !add) return;
  const selection = document.getSelection();
  state.selection = null;
  if (selection && selection.rangeCount && !selection.isCollapsed) {
    const range = selection.getRangeAt(0);
    if (message.contains(range.startContainer) && message.contains(range.endContainer)) {
      const before = document.createRange();
      before.setStart(message, 0);
      before.setEnd(range.startContainer, range.startOffset);
      let start = before.toString().length;
      let end = start + range.toString().length;
      const text = message.textContent;
      while (start < end && /\s/.test(text[start])) start += 1; // entities hold no edge spaces
      while (end > start && /\s/.test(text[end - 1])) end -= 1;
      if (end > start) state.selection = { start, end };
    }
  }
  const span = state.selection;
  shown.textContent = span
    ? `"${message.textContent.slice(span.start, span.end)}" (${span.start}–${span.end})`
    : "Select words of the message above.";
  add.disabled = !span;
}

// --- the inspector: the intent ------------------------------------------------------------------

/** Rows as horizontal bars: a name, a bar as long as its score, the score. */
function bars(rows, className) {
  return el(
    "ol",
    { class: `bars ${className}` },
    rows.map((row, index) => {
      const fill = el("span", { class: "bar-fill" });
      fill.style.width = percent(Math.max(0, Math.min(1, row.value)));
      return el(
        "li",
        { class: index === 0 ? "top" : null, dataset: { name: row.name } },
        el(
          "span",
          { class: "bar-name" },
          row.name,
          row.note ? el("span", { class: "muted" }, ` ${row.note}`) : null,
        ),
        el("span", { class: "bar-track", "aria-hidden": "true" }, fill),
        el("span", { class: "bar-value" }, score(row.value)),
      );
    }),
  );
}

function intentSection(turn) {
  const user = turn.user;
  const ranking =
    user.intent_ranking && user.intent_ranking.length ? user.intent_ranking : [user.intent];
  const intents = domainList("intents", state.status && state.status.intents);
  const choice = el(
    "select",
    { id: "intent-choice" },
    intents.map((name) => el("option", { value: name, selected: name === user.intent.name }, name)),
  );
  return el(
    "section",
    { class: "panel", "aria-labelledby": "intent-heading" },
    el(
      "h4",
      { id: "intent-heading" },
      "Intent ",
      el("code", { id: "intent-name" }, user.intent.name),
      ` ${score(user.intent.confidence)}`,
    ),
    bars(
      ranking.slice(0, MAX_INTENT_BARS).map((row) => ({ name: row.name, value: row.confidence })),
      "intent-ranking",
    ),
    el(
      "div",
      { class: "correction" },
      el("label", { for: "intent-choice" }, "Correct the intent to "),
      choice,
      " ",
      el(
        "button",
        {
          type: "button",
          id: "correct-intent",
          onclick: () => correct({ turn: turn.turn, intent: choice.value }),
        },
        "Correct intent",
      ),
    ),
  );
}

// --- the inspector: the bot's actions -----------------------------------------------------------

/** A short name for the policy that chose an action: rule, memoization, TED, fallback. */
function policyLabel(action) {
  const policy = action.policy || "";
  if (FALLBACK_ACTIONS.includes(action.action) || /fallback/i.test(action.rule || ""))
    return "fallback";
  if (/UnexpecTED/.test(policy)) return "intent check";
  if (/Rule/.test(policy)) return "rule";
  if (/Memoization/.test(policy)) return "memoization";
  if (/TED/.test(policy)) return "TED";
  if (!policy) return action.corrected ? "corrected" : "none";
  return policy;
}

function actionsSection(turn) {
  const actions = domainList(
    "actions",
    turn.actions.map((action) => action.action),
  );
  return el(
    "section",
    { class: "panel", "aria-labelledby": "actions-heading" },
    el("h4", { id: "actions-heading" }, "Bot actions"),
    turn.validation_messages && turn.validation_messages.length
      ? el(
          "p",
          { class: "muted validation-messages" },
          el("code", {}, "action_validate_slot_mappings"),
          ` said ${turn.validation_messages.length} message(s) after the user's, before the ` +
            "actions (Rasa runs it on every message, with no policy)",
        )
      : null,
    el(
      "ol",
      { class: "actions" },
      turn.actions.map((action, index) => {
        const label = policyLabel(action);
        const choiceId = `action-choice-${index}`;
        const choice = el(
          "select",
          { id: choiceId },
          actions.map((name) =>
            el("option", { value: name, selected: name === action.action }, name),
          ),
        );
        return el(
          "li",
          {
            class: "action" + (action.rejected ? " rejected" : ""),
            dataset: { action: action.action },
          },
          el(
            "p",
            { class: "action-head" },
            el("code", { class: "action-name" }, action.action),
            " ",
            el(
              "span",
              {
                class: `policy policy-${label.replace(/\s+/g, "-")}`,
                title: action.policy || "no policy",
              },
              label,
            ),
            el("span", { class: "muted" }, ` ${action.policy || ""} ${score(action.confidence)}`),
            action.rejected ? el("span", { class: "flag" }, "rejected") : null,
            action.corrected ? el("span", { class: "flag" }, "corrected") : null,
          ),
          action.rule ? el("p", { class: "rule" }, "rule: ", el("code", {}, action.rule)) : null,
          action.scores && action.scores.length
            ? bars(
                action.scores.slice(0, 5).map((row) => ({ name: row.action, value: row.score })),
                "action-scores",
              )
            : null,
          el(
            "div",
            { class: "correction" },
            el("label", { for: choiceId }, "Correct to "),
            choice,
            " ",
            el(
              "button",
              {
                type: "button",
                class: "correct-action",
                onclick: () =>
                  correct({ turn: turn.turn, action_index: index, action: choice.value }),
              },
              "Correct action",
            ),
          ),
        );
      }),
    ),
  );
}

// --- the inspector: slots and the form ----------------------------------------------------------

function slotsSection(turn) {
  const changed = new Set(turn.changed_slots || []);
  const names = Object.keys(turn.slots || {});
  return el(
    "section",
    { class: "panel", "aria-labelledby": "slots-heading" },
    el("h4", { id: "slots-heading" }, "Slots after the turn"),
    el("p", {}, "Active form: ", el("code", { id: "active-loop" }, turn.active_loop || "none")),
    names.length
      ? el(
          "table",
          { class: "slots" },
          el(
            "tbody",
            {},
            names.map((name) =>
              el(
                "tr",
                { class: changed.has(name) ? "changed" : null },
                el("th", { scope: "row" }, name),
                el("td", {}, JSON.stringify(turn.slots[name])),
                el("td", {}, changed.has(name) ? el("span", { class: "flag" }, "changed") : ""),
              ),
            ),
          ),
        )
      : el("p", { class: "muted" }, "No slots."),
  );
}

// --- interactive learning: corrections ----------------------------------------------------------

function correctEntities(turn, entities) {
  const kept = entities.map((entity) => {
    const written = { start: entity.start, end: entity.end, entity: entity.entity };
    if (entity.role) written.role = entity.role;
    if (entity.group) written.group = entity.group;
    return written;
  });
  return correct({ turn: turn.turn, intent: turn.user.intent.name, entities: kept });
}

/** POSTs a correction; the server drops the later turns and lets the bot go on, so the chat is
 * drawn again from the turns it answers, and the corrected turn is shown. */
function correct(body) {
  state.queue = state.queue
    .then(async () => {
      showError(null);
      const answer = await api("POST", conversationPath("corrections"), body);
      state.turns = answer.turns;
      renderChat();
      selectTurn(body.turn);
      refreshStory();
    })
    .catch(showError);
  return state.queue;
}

// --- interactive learning: saving, downloading, the story ---------------------------------------

function setUpLearning() {
  const interactive = Boolean(state.status && state.status.interactive);
  $("#save-button").hidden = !interactive;
  $("#download-button").hidden = interactive;
}

async function save() {
  const result = $("#learning-result");
  try {
    const answer = await api("POST", conversationPath("save"));
    result.replaceChildren(
      el("p", {}, "Written:"),
      el(
        "ul",
        { id: "saved-files" },
        answer.files.map((file) => el("li", {}, el("code", {}, file))),
      ),
    );
  } catch (error) {
    result.replaceChildren(el("p", { class: "error" }, String(error.message)));
  }
}

/** The conversation as Rasa YAML, downloaded through a Blob: the token goes in a header, which
 * a plain link could not send. */
async function download() {
  const result = $("#learning-result");
  try {
    const response = await api("GET", conversationPath("training-data"), undefined, { raw: true });
    const disposition = response.headers.get("Content-Disposition") || "";
    const named = /filename="?([^";]+)"?/.exec(disposition);
    const filename = named ? named[1] : `${state.senderId}.yml`;
    const blob = await response.blob();
    const link = el(
      "a",
      { href: URL.createObjectURL(blob), download: filename, id: "download-link" },
      filename,
    );
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    result.replaceChildren(
      el("p", { id: "downloaded" }, `Downloaded ${filename} (${blob.size} bytes).`),
    );
  } catch (error) {
    result.replaceChildren(el("p", { class: "error" }, String(error.message)));
  }
}

async function refreshStory() {
  const details = $("#story-details");
  if (!details.open) return;
  try {
    const response = await api("GET", conversationPath("story"), undefined, { raw: true });
    $("#story-text").textContent = await response.text();
  } catch (error) {
    $("#story-text").textContent = String(error.message);
  }
}

// --- the domain's names -------------------------------------------------------------------------

/** The domain's `key` names (GET /inspector/domain), else `fallback`. */
function domainList(key, fallback = []) {
  const names =
    state.domain && Array.isArray(state.domain[key]) ? state.domain[key] : fallback || [];
  return [...new Set(names)];
}

function loadDomain() {
  return api("GET", "inspector/domain");
}

// --- start-up -----------------------------------------------------------------------------------

function recordPageLoad() {
  const [navigation] = performance.getEntriesByType("navigation");
  if (!navigation || !navigation.loadEventEnd) return;
  window.dietSparseTimings.pageLoadMs = navigation.loadEventEnd - navigation.startTime;
  window.dietSparseTimings.responseToLoadMs = navigation.loadEventEnd - navigation.responseStart;
}

function bindControls() {
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault(); // Enter in the input submits the form
    const input = $("#message-input");
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    send(text);
  });
  $("#new-conversation").addEventListener("click", () => {
    state.queue = state.queue.then(() => startConversation(newSenderId()));
  });
  $("#messages").addEventListener("click", (event) => {
    const item = event.target.closest("[data-turn]");
    if (item) selectTurn(Number(item.dataset.turn));
  });
  $("#messages").addEventListener("keydown", (event) => {
    const item = event.target; // a focused message, not a button inside one
    if (item.matches("[data-turn]") && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      selectTurn(Number(item.dataset.turn));
    }
  });
  $("#save-button").addEventListener("click", save);
  $("#download-button").addEventListener("click", download);
  $("#story-details").addEventListener("toggle", refreshStory);
  document.addEventListener("selectionchange", trackSelection);
  // Escape would close the token dialog with the calls still waiting for the token
  $("#token-dialog").addEventListener("cancel", (event) => event.preventDefault());
}

async function start() {
  bindControls();
  startConversation(sessionStorage.getItem(STORAGE.sender) || newSenderId());
  try {
    state.status = await api("GET", "status");
    state.domain = await loadDomain();
    setUpLearning();
    const turns = await loadTurns(); // a reloaded page shows its conversation again
    if (turns.some((turn) => turn.user)) {
      state.turns = turns;
      renderChat();
      selectTurn(turns[turns.length - 1].turn);
    }
  } catch (error) {
    showError(error);
  }
  window.dietSparseTimings.readyMs = performance.now();
  document.body.dataset.ready = "true";
  $("#message-input").focus();
}

window.addEventListener("load", () => setTimeout(recordPageLoad, 0)); // loadEventEnd is set then
document.addEventListener("DOMContentLoaded", start);
