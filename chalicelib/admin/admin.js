// The admin page: configure, test-run and watch every automation. Plain JavaScript, no build step.
// Every figure on the page comes from the JSON API with the user's bearer token; the API decides what the
// user may see and change. Text from the API is only ever put into the page as text, never as markup.
"use strict";

(() => {
  const API = new URL(".", location.href);
  const TOKEN_KEY = "automations.token";
  const REFRESH_KEY = "automations.refresh";
  const state = { config: null, me: null, settings: null, templates: null };

  const REASONS = {
    automation_disabled: "automation off", no_longer_eligible: "no longer eligible", missing_contact: "no address",
    suppressed: "suppressed", no_consent: "no consent", frequency_capped: "frequency cap",
    template_error: "template error", provider_error: "provider error", quiet_hours: "quiet hours",
    campaign_cancelled: "campaign cancelled", sender_not_verified: "sender not verified", erased: "customer erased",
  };
  const SETTING_LABELS = {
    days_before: ["When to send", (v) => (v === 0 ? "On the day" : `${v} day${v === 1 ? "" : "s"} before`)],
    days_after: ["When to remind", (v) => `${v} days after it is ready`],
    months_inactive: ["Inactive for", (v) => `${v} months`],
    include_discount_code: ["Include a unique discount code"],
    include_special_offer: ["Include the store's special offer"],
    request_review: ["Ask for a review"],
  };
  const ACTION_TYPES = {
    birthday_add: "Birthday added", email_add: "Email added", interest_add: "Interests added",
    app_download: "App downloaded", reward_available: "Reward available",
  };
  const CHANNELS = { email: "Email", sms: "SMS" };
  const PARTS = [["subject", "Subject", "input"], ["body_text", "Message", "textarea"],
    ["body_html", "Your own HTML", "textarea"], ["sms_body", "SMS", "textarea"]];

  // --- small DOM helpers ----------------------------------------------------------------------------
  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "class") el.className = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key in el && typeof value !== "string") el[key] = value;
      else el.setAttribute(key, value === true ? "" : value);
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const main = () => document.getElementById("main");
  const render = (...children) => { main().replaceChildren(); return append(main(), children); };
  // Ids are letters, digits and `_ . : -`: a path segment keeps them as they are.
  const seg = (id) => encodeURIComponent(id).replace(/%3A/gi, ":");
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const reason = (code) => REASONS[code] || (code || "").replace(/_/g, " ");

  // --- the store's time -----------------------------------------------------------------------------
  // Every date and time on the page is the store's: in its zone (settings.timezone) and written its
  // country's way (settings.country), whatever the zone and language of the browser that shows it.
  const LOCALES = { AU: "en-AU", GB: "en-GB", US: "en-US", NZ: "en-NZ", CA: "en-CA", IE: "en-IE" };
  const storeZone = () => (state.settings && state.settings.timezone) || "UTC";
  function storeLocale() {
    const country = String((state.settings && state.settings.country) || "").toUpperCase();
    if (LOCALES[country]) return LOCALES[country];
    // English as written in that country, when the browser knows it exactly (en-IN, en-ZA...); a locale
    // it would only approximate falls back to plain "en", which writes dates the US way.
    try {
      const guess = `en-${country}`;
      if (/^[A-Z]{2}$/.test(country) && new Intl.DateTimeFormat(guess).resolvedOptions().locale === guess) return guess;
    } catch (e) { /* not a locale */ }
    return "en-GB";
  }
  const formatters = new Map();
  function formatter(options, timeZone = storeZone(), locale = storeLocale()) {
    const key = JSON.stringify([locale, timeZone, options]);
    if (!formatters.has(key)) formatters.set(key, new Intl.DateTimeFormat(locale, { timeZone, ...options }));
    return formatters.get(key);
  }
  const DAY = { weekday: "short", day: "numeric", month: "short", year: "numeric" };
  /** An instant, as the store's clock and calendar show it. */
  const when = (iso) => (iso ? formatter({ dateStyle: "medium", timeStyle: "short" }).format(new Date(iso)) : "");
  const clockTime = (instant) => formatter({ timeStyle: "short" }).format(new Date(instant));
  const whenEl = (iso) => h("time", { datetime: iso }, when(iso));
  /** A store-local calendar date (YYYY-MM-DD, or --MM-DD without a year): a day, not an instant. */
  function day(iso, options = DAY) {
    const yearless = iso.startsWith("--");
    const [y, m, d] = (yearless ? `2000${iso.slice(1)}` : iso).split("-").map(Number);
    const shown = { ...options };
    if (yearless) { delete shown.year; delete shown.weekday; }
    return formatter(shown, "UTC").format(new Date(Date.UTC(y, m - 1, d)));
  }
  const dayEl = (iso, options) => h("time", { datetime: iso }, day(iso, options));

  // The store's wall clock at an instant: { year, month, day, hour, minute, second }.
  function wall(instant) {
    const parts = {};
    const f = formatter({ hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" },
      storeZone(), "en-US");
    for (const p of f.formatToParts(new Date(instant))) if (p.type !== "literal") parts[p.type] = Number(p.value);
    return parts;
  }
  const isoDay = (w) => `${String(w.year).padStart(4, "0")}-${String(w.month).padStart(2, "0")}-${String(w.day).padStart(2, "0")}`;
  const daysFrom = (fromIso, toIso) => Math.round((Date.parse(`${toIso}T00:00:00Z`) - Date.parse(`${fromIso}T00:00:00Z`)) / 86400000);

  // The instant a wall-clock time of the store's zone names (in a clock change's gap: the time after it).
  function instantAt(year, month, date, hour, minute) {
    const named = Date.UTC(year, month - 1, date, hour, minute);
    const offset = (instant) => {
      const w = wall(instant);
      return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(instant / 1000) * 1000;
    };
    const first = named - offset(named);
    return named - offset(first);
  }

  // --- errors ---------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, error) {
      super(error.message || `request failed (${status})`);
      this.status = status;
      this.code = error.code;
      this.field = error.field;
    }
  }

  function showAlert(message) {
    const box = document.getElementById("alert");
    box.replaceChildren(h("span", {}, message),
      h("button", { type: "button", onclick: () => { box.hidden = true; } }, "Dismiss"));
    box.hidden = false;
  }

  function clearAlert() { document.getElementById("alert").hidden = true; }

  // A field's error goes beside the field (matched by the API's field name, or its first part); any other
  // error goes into the form's own status line, or the page's alert.
  function showError(err, scope, status) {
    // The note of an earlier save would say "saved" beside this error: it goes.
    for (const note of main().querySelectorAll("p.saved[tabindex]")) note.remove();
    if (scope) {
      const names = err.field ? [err.field, err.field.split(".")[0], err.field.split(".").slice(-1)[0]] : [];
      for (const name of names) {
        const slot = scope.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
        if (slot) {
          slot.textContent = err.message;
          const control = document.getElementById(slot.dataset.control);
          if (control) control.setAttribute("aria-invalid", "true");
          return;
        }
      }
    }
    const text = err instanceof ApiError ? `${err.message}${err.field ? ` (${err.field})` : ""}` : `${err.message || err}`;
    if (status) {
      status.textContent = text;
      status.className = "field-error";
    } else {
      showAlert(text);
    }
  }

  function clearErrors(scope) {
    scope.querySelectorAll("[data-error-for]").forEach((slot) => { slot.textContent = ""; });
    scope.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  }

  // --- the API --------------------------------------------------------------------------------------
  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(new URL(path.replace(/^\//, ""), API), {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, { code: "network", message: "The server could not be reached; check your connection and try again." });
    }
    if (response.status === 401 && await refreshed()) return api(method, path, body);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (response.status === 401) {
      signOut("Your session has ended: sign in again.");
      throw new ApiError(401, { code: "unauthorized", message: "Your session has ended: sign in again." });
    }
    if (!response.ok) {
      throw new ApiError(response.status, (data && data.error) || { code: "error", message: `The server answered ${response.status}.` });
    }
    return data;
  }

  // --- signing in -----------------------------------------------------------------------------------
  async function cognito(target, body) {
    const auth = state.config.auth;
    const response = await fetch(auth.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": `AWSCognitoIdentityProviderService.${target}` },
      body: JSON.stringify({ ClientId: auth.client_id, ...body }),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.message || data.__type || "Sign-in failed.");
    return data;
  }

  async function refreshed() {
    const refresh = sessionStorage.getItem(REFRESH_KEY);
    if (!refresh || state.config.auth.mode !== "cognito") return false;
    try {
      const data = await cognito("InitiateAuth", { AuthFlow: "REFRESH_TOKEN_AUTH", AuthParameters: { REFRESH_TOKEN: refresh } });
      sessionStorage.setItem(TOKEN_KEY, data.AuthenticationResult.IdToken);
      return true;
    } catch (e) {
      sessionStorage.removeItem(REFRESH_KEY);
      return false;
    }
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(REFRESH_KEY);
    state.me = null;
    renderSignIn(message);
  }

  function renderSignIn(message) {
    document.getElementById("nav").hidden = true;
    document.getElementById("who").replaceChildren();
    document.getElementById("read-only").hidden = true;
    const status = h("p", { role: "status", class: "field-error" }, message || "");
    const box = h("section", { class: "card signin", "aria-labelledby": "signin-title" },
      h("h1", { id: "signin-title" }, "Sign in"));
    if (state.config.auth.mode === "cognito") box.append(cognitoForm(status));
    else box.append(localForm(status));
    render(box);
    box.querySelector("input, textarea").focus();
  }

  function localForm(status) {
    const id = nextId("token");
    const form = h("form", {},
      h("p", {}, "This is the local stack. The address that ", h("code", {}, "make run"),
        " printed signs you in as the demo store's owner. Or paste a token from ",
        h("code", {}, "python -m chalicelib.cli token --tenant T --role R"), "."),
      h("div", { class: "field" }, h("label", { for: id }, "Token"), h("textarea", { id, required: true, autocomplete: "off" })),
      status,
      h("div", { class: "form-actions" }, h("button", { class: "primary", type: "submit" }, "Sign in")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, form.querySelector("textarea").value.trim());
      start();
    });
    return form;
  }

  function cognitoForm(status) {
    const form = h("form", {},
      labelled("Email", h("input", { type: "email", name: "username", autocomplete: "username", required: true })),
      labelled("Password", h("input", { type: "password", name: "password", autocomplete: "current-password", required: true })),
      status,
      h("div", { class: "form-actions" }, h("button", { class: "primary", type: "submit" }, "Sign in")));
    let challenge = null;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.textContent = "";
      const value = (name) => (form.elements[name] ? form.elements[name].value : "");
      try {
        const data = challenge
          ? await cognito("RespondToAuthChallenge", {
            ChallengeName: challenge.ChallengeName, Session: challenge.Session,
            ChallengeResponses: challenge.ChallengeName === "NEW_PASSWORD_REQUIRED"
              ? { USERNAME: challenge.username, NEW_PASSWORD: value("new_password") }
              : { USERNAME: challenge.username, SOFTWARE_TOKEN_MFA_CODE: value("code") },
          })
          : await cognito("InitiateAuth", { AuthFlow: "USER_PASSWORD_AUTH", AuthParameters: { USERNAME: value("username"), PASSWORD: value("password") } });
        if (data.AuthenticationResult) {
          sessionStorage.setItem(TOKEN_KEY, data.AuthenticationResult.IdToken);
          if (data.AuthenticationResult.RefreshToken) sessionStorage.setItem(REFRESH_KEY, data.AuthenticationResult.RefreshToken);
          start();
          return;
        }
        challenge = { ...data, username: (challenge && challenge.username) || value("username") };
        const extra = data.ChallengeName === "NEW_PASSWORD_REQUIRED"
          ? labelled("Choose a new password", h("input", { type: "password", name: "new_password", autocomplete: "new-password", required: true, minlength: 12 }))
          : labelled("Code from your authenticator app", h("input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true }));
        form.querySelectorAll(".field").forEach((f) => f.remove());
        form.prepend(extra);
        extra.querySelector("input").focus();
      } catch (e) {
        status.textContent = e.message;
      }
    });
    return form;
  }

  // --- shell ----------------------------------------------------------------------------------------
  const mayChange = (resource) => Boolean(state.me && state.me.may_change[resource]);
  const READ_ONLY_LINE = "only an owner or a manager can change the configuration.";

  function renderShell() {
    document.getElementById("store-name").textContent = state.settings.store_name || state.me.tenant_id;
    document.getElementById("nav").hidden = false;
    document.getElementById("who").replaceChildren(
      h("span", {}, `${state.me.tenant_id} · ${state.me.role}`),
      h("button", { type: "button", onclick: () => signOut("You have signed out.") }, "Sign out"));
    const notice = document.getElementById("read-only");
    notice.hidden = mayChange("automations");
    notice.textContent = `You are signed in as ${state.me.role}: you can see everything here, but ${READ_ONLY_LINE}`;
  }

  // Controls that change configuration are disabled for roles that may not change it, and point at the
  // line that says why.
  function guard(control, resource) {
    if (!mayChange(resource)) {
      control.disabled = true;
      control.setAttribute("aria-describedby", "read-only");
      control.title = `Read-only: ${READ_ONLY_LINE}`;
    }
    return control;
  }

  const ROUTES = [
    [/^#\/automations$/, renderAutomations], [/^#\/actions$/, renderActions],
    [/^#\/templates$/, renderTemplates], [/^#\/templates\/(.+)$/, renderTemplateEditor],
    [/^#\/settings$/, renderSettings], [/^#\/customers$/, renderCustomers],
    [/^#\/customers\/(.+)$/, renderCustomer],
    [/^#\/segments$/, renderSegments], [/^#\/segments\/(.+)$/, renderSegment],
    [/^#\/campaigns$/, renderCampaigns], [/^#\/campaigns\/(.+)$/, renderCampaign],
    [/^#\/reminders$/, renderReminders],
    [/^#\/import$/, renderImport],
  ];

  // One page renders at a time, in the order the address changed: a slow page that started first can
  // never paint over the page the user went to next.
  let routing = Promise.resolve();
  function route() {
    routing = routing.then(showPage, showPage);
    return routing;
  }

  async function showPage() {
    if (!state.me) return;
    const hash = location.hash || "#/automations";
    const found = ROUTES.find(([pattern]) => pattern.test(hash));
    if (!found) { location.hash = "#/automations"; return; }
    const section = hash.split("/")[1];
    document.querySelectorAll("#nav a").forEach((a) => {
      if (a.getAttribute("href") === `#/${section}`) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    clearAlert();
    stopWatching();
    render(h("p", { class: "loading" }, "Loading…"));
    try {
      const args = hash.match(found[0]).slice(1).map(decodeURIComponent);
      await found[1](...args);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) render(h("h1", {}, "Something went wrong"), h("p", { role: "alert" }, e.message));
    }
    // The page's heading takes the focus, unless the user is already in one of its controls (typing in a
    // search box while the page's first list loads): their caret stays where it is.
    const heading = main().querySelector("h1");
    const busy = document.activeElement && document.activeElement !== document.body && main().contains(document.activeElement);
    if (heading && !busy) { heading.tabIndex = -1; heading.focus(); }
  }

  async function start() {
    try {
      [state.me, state.settings] = await Promise.all([api("GET", "/me"), api("GET", "/settings").then((s) => s.settings)]);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) showAlert(e.message);
      if (!state.me) signOut(e.message);
      return;
    }
    renderShell();
    await route();
  }

  async function templates(refresh) {
    if (!state.templates || refresh) state.templates = (await api("GET", "/templates")).templates;
    return state.templates;
  }

  // --- form helpers ---------------------------------------------------------------------------------
  function labelled(text, control, options = {}) {
    control.id = control.id || nextId("f");
    const error = h("p", { class: "field-error", id: `${control.id}-error`, dataset: { errorFor: options.field || control.name || "", control: control.id } });
    const describedBy = [options.hint ? `${control.id}-hint` : null, error.id, control.getAttribute("aria-describedby")].filter(Boolean);
    control.setAttribute("aria-describedby", describedBy.join(" "));
    return h("div", { class: "field" }, h("label", { for: control.id }, text), control,
      options.hint ? h("p", { class: "hint", id: `${control.id}-hint` }, options.hint) : null, error);
  }

  function checkbox(text, name, checked, resource) {
    const input = h("input", { type: "checkbox", name, checked: Boolean(checked) });
    if (resource) guard(input, resource);
    return h("label", { class: "check" }, input, text);
  }

  function channelPicker(chosen, resource) {
    const id = nextId("channels");
    return h("fieldset", { class: "field", "aria-describedby": `${id}-error` },
      h("legend", {}, "Channels"),
      h("div", { class: "checks" }, Object.entries(CHANNELS).map(([value, text]) =>
        checkbox(text, `channel-${value}`, chosen.includes(value), resource))),
      h("p", { class: "field-error", id: `${id}-error`, dataset: { errorFor: "channels", control: "" } }));
  }

  const chosenChannels = (form) => Object.keys(CHANNELS).filter((c) => form.elements[`channel-${c}`].checked);

  function templateOptions(all, type, selected, effective) {
    const own = all.filter((t) => t.type === type);
    return own.map((t) => h("option", { value: t.system ? "" : t.template_id, selected: t.system ? !selected : t.template_id === selected },
      `${t.name}${t.system ? " (system)" : ""}${t.template_id === effective ? " — in effect" : ""}`));
  }

  function saveStatus() { return h("p", { role: "status", class: "saved" }); }

  // --- automations ----------------------------------------------------------------------------------
  async function renderAutomations() {
    const [list, all] = await Promise.all([api("GET", "/automations"), templates()]);
    render(
      h("h1", {}, "Automations"),
      h("p", { class: "intro" }, "Each automation sends on its own once it is on. Test run shows what its next evaluation would send, and to whom, without sending anything. Dates and times are the store's."),
      list.automations.map((automation) => automationCard(automation, all)));
  }

  // A button that shows and hides a card's panel (its Configure or Test run).
  function opener(panel, label) {
    panel.id = panel.id || nextId("panel");
    const button = h("button", { type: "button", "aria-expanded": "false", "aria-controls": panel.id }, label);
    button.addEventListener("click", () => {
      panel.hidden = !panel.hidden;
      button.setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) panel.querySelector("select, input, button").focus();
    });
    return button;
  }

  function automationCard(automation, all) {
    const card = h("article", { class: "card", id: `automation-${automation.type}`, "aria-labelledby": `title-${automation.type}` });
    fillCard(card, automation, all);
    return card;
  }

  function fillCard(card, a, all) {
    const type = a.type;
    const toggle = guard(h("input", { type: "checkbox", role: "switch", checked: a.enabled, id: `enabled-${type}` }), "automations");
    const cardStatus = h("p", { role: "status", class: "field-error" });
    toggle.addEventListener("change", async () => {
      toggle.disabled = true;
      cardStatus.textContent = "";
      try {
        fillCard(card, await api("PATCH", `/automations/${type}`, { enabled: toggle.checked }), all);
        card.querySelector(`#enabled-${type}`).focus();
      } catch (e) {
        toggle.checked = !toggle.checked;
        toggle.disabled = false;
        showError(e, null, cardStatus);
      }
    });
    const effective = all.find((t) => t.template_id === a.effective_template_id);
    const configure = configurePanel(card, a, all);
    const testRun = testRunPanel(a);
    card.replaceChildren(
      h("div", { class: "card-head" },
        h("h2", { id: `title-${type}` }, a.name),
        h("span", { class: `badge ${a.enabled ? "on" : "off"}` }, a.enabled ? "Active" : "Off"),
        h("span", { class: "chip" }, a.category),
        h("label", { class: "switch", for: toggle.id }, toggle, "Enabled")),
      h("p", {}, a.description),
      h("p", { class: "meta" }, `Channels: ${a.channels.map((c) => CHANNELS[c]).join(", ")} · Template: ${effective ? effective.name : a.effective_template_id}`,
        a.updated_at ? [" · Changed ", whenEl(a.updated_at)] : ""),
      statsLine(a.stats, `${a.name}`),
      cardStatus,
      h("div", { class: "actions" }, opener(configure, "Configure"), opener(testRun, "Test run")),
      configure, testRun);
  }

  function statsLine(stats, name) {
    const skipped = Object.values(stats.skipped).reduce((x, y) => x + y, 0);
    const reasons = Object.entries(stats.skipped).map(([code, n]) => `${reason(code)} ${n}`).join(", ");
    return h("section", { class: "stats", "aria-label": `${name}: last 30 days` },
      h("span", { class: "muted" }, "Last 30 days"),
      h("dl", {},
        h("div", { class: "pair" }, h("dt", {}, "Sent"), h("dd", { class: "status-sent" }, stats.sent)),
        h("div", { class: "pair" }, h("dt", {}, "Skipped"), h("dd", { class: "status-skipped" }, skipped, reasons ? ` (${reasons})` : "")),
        h("div", { class: "pair" }, h("dt", {}, "Failed"), h("dd", { class: "status-failed" }, stats.failed))),
      chart(stats.daily || []),
      engagementList(stats, name),
      engagementChart(stats.daily || []));
  }

  // --- engagement (docs/behaviour.md section 14) ----------------------------------------------------
  /** An amount in the store's currency (settings.currency), written its country's way; a plain number without one. */
  function money(amount) {
    const currency = state.settings && state.settings.currency;
    try {
      if (currency) return new Intl.NumberFormat(storeLocale(), { style: "currency", currency, maximumFractionDigits: Number.isInteger(amount) ? 0 : 2 }).format(amount);
    } catch (e) { /* a code the browser does not know: the number alone */ }
    return new Intl.NumberFormat(storeLocale(), { maximumFractionDigits: 2 }).format(amount);
  }
  const percent = (rate) => (rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)}%`);

  /** What SES reported and the sales attributed: delivered, opened by people (with the rate), clicked, bounced,
   * complained, attributed sales and revenue. Opens by mail privacy proxies are said apart. */
  function engagementList(stats, name) {
    const item = (label, cls, value) => h("div", { class: "pair" }, h("dt", {}, label), h("dd", { class: cls }, value));
    return h("dl", { class: "engagement", "aria-label": `${name}: delivery, opens, clicks and revenue` },
      item("Delivered", "eg-delivered", stats.delivered ?? 0),
      item("Opened", "eg-opened", [String(stats.opened ?? 0), ` (${percent(stats.open_rate)})`,
        stats.machine_open ? h("span", { class: "muted", title: "Opens by mail privacy proxies (Apple Mail and others) are not counted as opens" }, ` + ${stats.machine_open} by privacy proxies`) : ""]),
      item("Clicked", "eg-clicked", [String(stats.clicked ?? 0), ` (${percent(stats.click_rate)})`]),
      item("Bounced", "eg-bounced status-failed", stats.bounced ?? 0),
      item("Complaints", "eg-complained status-failed", stats.complained ?? 0),
      item("Sales after", "eg-sales", stats.attributed_sales ?? 0),
      item("Revenue", "eg-revenue", money(stats.attributed_revenue ?? 0)));
  }

  // Thirty days of delivered messages, with the part opened by people and the part clicked drawn inside each
  // day's bar; each day's title says it in words, revenue included.
  function engagementChart(daily) {
    const ns = "http://www.w3.org/2000/svg";
    const width = 180, height = 32, gap = 1, bar = width / Math.max(daily.length, 1);
    const top = Math.max(1, ...daily.map((d) => Math.max(d.delivered || 0, d.opened || 0, d.clicked || 0)));
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "chart engagement-chart");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("role", "img");
    const said = (d) => `${day(d.date)}: ${d.delivered || 0} delivered, ${d.opened || 0} opened, ${d.clicked || 0} clicked, ${d.attributed_sales || 0} sales (${money(d.attributed_revenue || 0)})`;
    const busiest = daily.reduce((best, d) => ((d.delivered || 0) > (best ? best.delivered || 0 : 0) ? d : best), null);
    svg.setAttribute("aria-label", busiest ? `Engagement chart; busiest day ${said(busiest)}` : "Engagement chart: nothing delivered in the last 30 days");
    daily.forEach((d, i) => {
      const group = document.createElementNS(ns, "g");
      const title = document.createElementNS(ns, "title");
      title.textContent = said(d);
      group.append(title);
      for (const kind of ["delivered", "opened", "clicked"]) {
        const n = d[kind] || 0;
        const size = n ? (n / top) * (height - 2) : kind === "delivered" ? 1 : 0;
        if (!size) continue;
        const rect = document.createElementNS(ns, "rect");
        rect.setAttribute("class", n ? kind : "none");
        rect.setAttribute("x", (i * bar).toFixed(2));
        rect.setAttribute("y", (height - size).toFixed(2));
        rect.setAttribute("width", Math.max(bar - gap, 1).toFixed(2));
        rect.setAttribute("height", size.toFixed(2));
        group.append(rect);
      }
      svg.append(group);
    });
    return svg;
  }

  // Thirty small stacked bars: sent, skipped, failed per day. The totals beside it say the same in words.
  function chart(daily) {
    const ns = "http://www.w3.org/2000/svg";
    const width = 180, height = 32, gap = 1, bar = width / Math.max(daily.length, 1);
    const top = Math.max(1, ...daily.map((d) => d.sent + d.skipped + d.failed));
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("role", "img");
    const busiest = daily.reduce((best, d) => (d.sent + d.skipped + d.failed > (best ? best.sent + best.skipped + best.failed : 0) ? d : best), null);
    svg.setAttribute("aria-label", busiest ? `Daily chart; busiest day ${day(busiest.date)}: ${busiest.sent} sent, ${busiest.skipped} skipped, ${busiest.failed} failed` : "Daily chart: nothing in the last 30 days");
    daily.forEach((d, i) => {
      let y = height;
      const total = d.sent + d.skipped + d.failed;
      const parts = total ? [["sent", d.sent], ["skipped", d.skipped], ["failed", d.failed]] : [["none", 0]];
      for (const [kind, n] of parts) {
        const size = total ? (n / top) * (height - 2) : 1;
        if (total && !n) continue;
        y -= size;
        const rect = document.createElementNS(ns, "rect");
        rect.setAttribute("class", kind);
        rect.setAttribute("x", (i * bar).toFixed(2));
        rect.setAttribute("y", y.toFixed(2));
        rect.setAttribute("width", Math.max(bar - gap, 1).toFixed(2));
        rect.setAttribute("height", size.toFixed(2));
        const title = document.createElementNS(ns, "title");
        title.textContent = `${day(d.date)}: ${d.sent} sent, ${d.skipped} skipped, ${d.failed} failed`;
        rect.append(title);
        svg.append(rect);
      }
    });
    return svg;
  }

  function configurePanel(card, a, all) {
    const panel = h("div", { class: "panel", id: `configure-${a.type}`, hidden: true });
    const form = h("form", { class: "grid", "aria-label": `Configure ${a.name}` });
    const names = Object.keys(a.setting_options);
    for (const name of names) {
      const options = a.setting_options[name];
      const [label, show] = SETTING_LABELS[name] || [name.replace(/_/g, " "), String];
      if (options.length === 2 && options.every((o) => typeof o === "boolean")) {
        form.append(h("div", { class: "field" }, checkbox(label, name, a.settings[name], "automations"),
          h("p", { class: "field-error", dataset: { errorFor: `settings.${name}`, control: "" } })));
      } else {
        const select = guard(h("select", { name }, options.map((o) =>
          h("option", { value: String(o), selected: o === a.settings[name] }, show(o)))), "automations");
        form.append(labelled(label, select, { field: `settings.${name}` }));
      }
    }
    if (!names.length) form.append(h("p", { class: "muted" }, "This automation has no settings: it runs on its fixed schedule when it is on."));
    form.append(channelPicker(a.channels, "automations"));
    const picker = guard(h("select", { name: "template_id" }, templateOptions(all, a.type, a.template_id, a.effective_template_id)), "automations");
    form.append(labelled("Template", picker, { hint: "The system template is used unless you choose one of your own. Duplicate it to make your own." }), duplicateSystemTemplate(a.type));
    const status = saveStatus();
    form.append(h("div", { class: "form-actions" }, guard(h("button", { class: "primary", type: "submit" }, "Save"), "automations"), status));
    const chosenSettings = () => {
      const settings = {};
      for (const name of names) {
        const options = a.setting_options[name];
        const control = form.elements[name];
        settings[name] = control.type === "checkbox" ? control.checked : options.find((o) => String(o) === control.value);
      }
      return settings;
    };
    const preview = settingsPreview(a, chosenSettings);
    form.addEventListener("change", (event) => { if (names.includes(event.target.name)) preview.changed(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      preview.stop();
      clearErrors(form);
      status.textContent = "";
      const body = { channels: chosenChannels(form), template_id: picker.value || null };
      if (names.length) body.settings = chosenSettings();
      try {
        const saved = await api("PATCH", `/automations/${a.type}`, body);
        fillCard(card, saved, all);
        const again = card.querySelector(`#configure-${a.type}`);
        again.hidden = false;
        card.querySelector(`[aria-controls="configure-${a.type}"]`).setAttribute("aria-expanded", "true");
        const done = again.querySelector(".saved");
        done.textContent = "Saved.";
        done.tabIndex = -1;
        done.focus();
      } catch (e) {
        showError(e, form, status);
      }
    });
    panel.append(names.length ? h("div", { class: "with-preview" }, form, preview.element) : form);
    return panel;
  }

  // Beside the Configure form: what the changed settings would send at the next evaluation, asked of the
  // test-run with the proposal (which the API checks like a save and never stores), a moment after the
  // last change.
  function settingsPreview(a, chosenSettings) {
    const daily = !CONTINUOUS.has(a.type);
    const body = h("div", { class: "cfg-result", "aria-live": "polite" });
    const idle = () => body.replaceChildren(h("p", { class: "muted" },
      "Change a setting to see here what it would send at the next evaluation, before you save."));
    idle();
    const element = h("section", { class: "cfg-preview", "aria-label": `If you save ${a.name}` }, h("h3", {}, "If you save"), body);
    let timer = null;
    let sequence = 0;
    async function ask() {
      const mine = ++sequence;
      const settings = chosenSettings();
      if (Object.keys(settings).every((name) => settings[name] === a.settings[name])) { idle(); return; }
      body.replaceChildren(h("p", { class: "loading" }, "Working out what it would send…"));
      const next = defaultInstant(daily);
      try {
        const r = await api("POST", `/automations/${a.type}/test-run`, next.at ? { settings, at: next.at } : { settings });
        if (mine !== sequence) return;
        const late = lateSentence(a.type, r);
        const skipped = Object.entries(r.skipped || {});
        body.replaceChildren();
        append(body, [
          late ? h("p", { class: "cfg-late" }, late) : null,
          h("p", {}, "The next evaluation (", whenEl(r.at), ") would match ", h("output", { class: "cfg-count" }, r.count),
            " and send ", h("output", { class: "cfg-would-send" }, r.would_send), ` ${r.would_send === 1 ? "message" : "messages"}`,
            skipped.length ? `; skipped: ${skipped.map(([code, n]) => `${outcome(code)}: ${n}`).join(", ")}` : "", "."),
          notesList(r.notes),
          h("p", { class: "muted" }, "Nothing is saved or sent until you press Save.")]);
      } catch (e) {
        if (mine !== sequence) return;
        body.replaceChildren();
        showError(e, null, body.appendChild(h("p", { class: "field-error" })));
      }
    }
    return {
      element,
      changed() { clearTimeout(timer); timer = setTimeout(ask, 400); },
      stop() { clearTimeout(timer); sequence += 1; },
    };
  }

  // --- test runs ------------------------------------------------------------------------------------
  // Types looked at in every evaluation (docs/behaviour.md section 2); the others process each store-local
  // date once, from the store's send hour.
  const CONTINUOUS = new Set(["appointment_24h", "appointment_1h"]);
  const OUTCOMES = { would_send: "would send", already_sent: "already sent", deferred: "deferred (quiet hours)" };
  const outcome = (code) => OUTCOMES[code] || reason(code);
  // A type's trigger dates in words: the table's heading, one and many of what falls on them, what they
  // will get, and whether "in the next 7 days" reads naturally (it does not for a lapse half a year ago).
  const TRIGGERS = {
    birthday: { heading: "Birthday", one: "birthday", many: "birthdays", verb: "be greeted", relative: true },
    anniversary: { heading: "Anniversary", one: "anniversary", many: "anniversaries", verb: "be greeted", relative: true },
    repair_ready_reminder: { heading: "Ready on", one: "repair that became ready", many: "repairs that became ready", verb: "get their reminder", relative: true },
    reengagement: { heading: "Last active", one: "lapsed customer last active", many: "lapsed customers last active", verb: "be invited back", relative: false },
    post_purchase: { heading: "Bought on", one: "purchase made", many: "purchases made", verb: "be followed up", relative: true },
  };
  const OTHER_TRIGGERS = { heading: "Date", one: "customer due", many: "customers due", verb: "get their message", relative: false };
  const SHORT_DAY = { day: "numeric", month: "short", year: "numeric" };

  // The instant a test run looks at unless the user picks one: now; or, for a daily type before the
  // store's send hour, the moment today's evaluation runs (until then an evaluation does not process today).
  function defaultInstant(daily) {
    const now = Date.now();
    if (!daily) return { at: null, line: "Appointment reminders are looked for at every evaluation: the test run looks at now unless you choose another time." };
    const today = wall(now);
    const due = instantAt(today.year, today.month, today.day, Number(state.settings.send_hour), 0);
    if (now < due) {
      return { at: new Date(due).toISOString(), line: `Today's evaluation runs at ${clockTime(due)}: the test run looks at that moment unless you choose another time.` };
    }
    return { at: null, line: `Today's evaluation time, ${clockTime(due)}, has come: the test run looks at now unless you choose another time.` };
  }

  // Dates (oldest first, consecutive when `relative` phrasing applies) as "in the next 7 days",
  // "in the last 4 days", or between two dates.
  function spanOf(dates, evaluationDay, relative) {
    const first = dates[0], last = dates[dates.length - 1];
    if (relative && daysFrom(first, last) === dates.length - 1) {
      const from = daysFrom(evaluationDay, first), to = daysFrom(evaluationDay, last);
      if (from === 1) return to === 1 ? "tomorrow" : `in the next ${to} days`;
      if (to === -1) return from === -1 ? "yesterday" : `in the last ${-from} days`;
      if (from === 0 && to === 0) return "today";
    }
    return dates.length === 1 ? `on ${day(first, SHORT_DAY)}` : `between ${day(first, SHORT_DAY)} and ${day(last, SHORT_DAY)}`;
  }

  // The trigger dates a settings change jumped over, which this evaluation covers once, late, in a sentence:
  // "3 birthdays in the next 7 days will be greeted today, late."
  function lateSentence(type, r) {
    const late = (r.trigger_dates || []).filter((t) => t.late).map((t) => t.date);
    if (!late.length) return "";
    const words = TRIGGERS[type] || OTHER_TRIGGERS;
    const evaluationDay = isoDay(wall(Date.parse(r.at)));
    const today = evaluationDay === isoDay(wall(Date.now()));
    const span = spanOf(late, evaluationDay, words.relative && today);
    const n = r.late_matches;
    if (!n) return `No ${words.many} ${span}: nothing is sent late.`;
    return `${n} ${n === 1 ? words.one : words.many} ${span} will ${words.verb} ${today ? "today" : `on ${day(evaluationDay)}`}, late.`;
  }

  const sentence = (text) => `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}`;
  const notesList = (notes) => (notes && notes.length ? h("ul", { class: "tr-notes" }, notes.map((n) => h("li", {}, sentence(n)))) : null);

  function triggerTable(type, r) {
    const all = r.trigger_dates || [];
    if (!all.length) return null;
    // A lapse setting lowered by months jumps over hundreds of dates: list those with someone on them.
    const shown = all.length > 31 ? all.filter((t) => t.count) : all;
    const severalFor = new Set(all.map((t) => t.for)).size > 1;
    const late = all.filter((t) => t.late).length;
    const words = TRIGGERS[type] || OTHER_TRIGGERS;
    return h("div", { class: "table-wrap" }, h("table", { class: "tr-triggers" },
      h("caption", {}, `${plural(all.length, "date")} covered`, late ? `, ${late} late: a settings change jumped over them, so this evaluation covers them once` : "",
        shown.length < all.length ? ` (${all.length - shown.length} without anyone on them not listed)` : ""),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, words.heading), severalFor ? h("th", { scope: "col" }, "Processed as") : null,
        h("th", { scope: "col" }, "Matches"), h("th", { scope: "col" }, "Late"))),
      h("tbody", {}, shown.map((t) => h("tr", { class: t.late ? "late" : null, dataset: { date: t.date } },
        h("td", {}, dayEl(t.date)), severalFor ? h("td", {}, dayEl(t.for)) : null, h("td", {}, t.count),
        h("td", {}, t.late ? h("strong", { class: "late-mark" }, "late") : ""))))));
  }

  function sampleTable(r) {
    if (!r.sample.length) return h("p", { class: "tr-sample muted" }, "Nobody would match.");
    const severalFor = new Set(r.sample.map((s) => s.for)).size > 1;
    return h("div", { class: "table-wrap" }, h("table", { class: "tr-sample" },
      h("caption", {}, r.count > r.sample.length ? `The first ${r.sample.length} of ${r.count} matches` : `${r.count === 1 ? "The match" : `All ${r.count} matches`}`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Customer"), severalFor ? h("th", { scope: "col" }, "Processed as") : null,
        r.channels.map((c) => h("th", { scope: "col" }, CHANNELS[c] || c)))),
      h("tbody", {}, r.sample.map((s) => h("tr", { dataset: { customer: s.customer_id } },
        h("th", { scope: "row" }, h("a", { href: `#/customers/${seg(s.customer_id)}` }, s.name || s.customer_id)),
        severalFor ? h("td", {}, dayEl(s.for)) : null,
        r.channels.map((c) => h("td", { class: `outcome ${s.outcomes[c] === "would_send" ? "status-sent" : "status-skipped"}`, dataset: { channel: c } },
          outcome(s.outcomes[c]))))))));
  }

  function testRunResult(a, r) {
    const skipped = Object.entries(r.skipped || {});
    const late = lateSentence(a.type, r);
    const item = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
    return [
      h("dl", {},
        item("As of", h("span", { class: "tr-at" }, whenEl(r.at), ` (${storeZone()})`)),
        r.window
          ? item("Reminds", h("span", { class: "tr-window" }, "appointments starting between ", whenEl(r.window.starts_after),
            " and ", whenEl(r.window.starts_until)))
          : item("Evaluation dates", h("span", { class: "tr-dates" }, r.dates.length
            ? r.dates.map((d, i) => [i ? ", " : "", dayEl(d)]) : "none due at this instant")),
        item("Would match", h("output", { class: "tr-count" }, r.count)),
        item("Would be sent", h("output", { class: "tr-would-send" }, r.would_send)),
        r.deferred ? item("Deferred to after quiet hours", h("output", { class: "tr-deferred" }, r.deferred)) : null,
        item("Skipped", h("span", { class: "tr-skipped" }, skipped.length ? skipped.map(([code, n]) => `${outcome(code)}: ${n}`).join(", ") : "none"))),
      late ? h("p", { class: "tr-late" }, late) : null,
      notesList(r.notes),
      triggerTable(a.type, r),
      sampleTable(r),
      h("p", { class: "muted" }, "Nothing was sent."),
    ];
  }

  // A datetime-local value ("2026-12-24T09:30") read as the store's wall clock.
  function storeInstant(value) {
    const [date, time] = value.split("T");
    const [y, m, d] = date.split("-").map(Number);
    const [hh, mm] = time.split(":").map(Number);
    return new Date(instantAt(y, m, d, hh, mm)).toISOString();
  }

  function testRunPanel(a) {
    const daily = !CONTINUOUS.has(a.type);
    const panel = h("div", { class: "panel", id: `testrun-${a.type}`, hidden: true });
    const timing = h("p", { class: "tr-default muted" }, defaultInstant(daily).line);
    const at = h("input", { type: "datetime-local", name: "at" });
    const status = h("p", { role: "status", class: "tr-status" });
    const result = h("div", { class: "result", hidden: true });
    const run = h("button", { class: "primary", type: "submit" }, "Run test");
    const form = h("form", { class: "row", "aria-label": `Test run of ${a.name}` },
      labelled(`As of (optional, the store's time: ${storeZone()})`, at, { field: "at", hint: "Leave empty for the moment above." }), run);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      run.disabled = true;
      status.className = "tr-status loading";
      status.textContent = "Running…";
      const next = defaultInstant(daily);
      timing.textContent = next.line;
      try {
        const chosen = at.value ? storeInstant(at.value) : next.at;
        const r = await api("POST", `/automations/${a.type}/test-run`, chosen ? { at: chosen } : {});
        result.replaceChildren();
        append(result, testRunResult(a, r));
        result.hidden = false;
        status.className = "tr-status";
        status.textContent = `As of ${when(r.at)}: ${r.count} would match and ${r.would_send} would be sent. Nothing was sent.`;
      } catch (e) {
        result.hidden = true;
        status.textContent = "";
        showError(e, form, status);
      } finally {
        run.disabled = false;
      }
    });
    panel.append(timing, form, status, result);
    return panel;
  }

  // --- action-taken automations ---------------------------------------------------------------------
  async function renderActions() {
    const [list, all] = await Promise.all([api("GET", "/action-automations"), templates()]);
    const area = h("div", { id: "action-form-area" });
    const add = guard(h("button", { type: "button", class: "primary" }, "New automation"), "action_automations");
    add.addEventListener("click", () => { area.replaceChildren(actionForm(null, all)); area.querySelector("select, input").focus(); });
    render(
      h("h1", {}, "Action-taken automations"),
      h("p", { class: "intro" }, "These fire when a customer does something: adds a birthday or an email, shares interests, installs the app or reaches a reward. For each event, the enabled automation with the highest priority whose audience matches sends; reward automations each fire on their own threshold."),
      h("div", { class: "actions" }, add), area,
      list.action_automations.length ? list.action_automations.map((a) => actionCard(a, all, area))
        : h("p", { class: "muted" }, "No action-taken automations yet."));
  }

  function audienceText(audience) {
    const parts = [];
    if (audience.tags_any && audience.tags_any.length) parts.push(`tags: ${audience.tags_any.join(", ")}`);
    if (audience.interests_any && audience.interests_any.length) parts.push(`interests: ${audience.interests_any.join(", ")}`);
    if (audience.min_points !== undefined && audience.min_points !== null) parts.push(`at least ${audience.min_points} points`);
    return parts.length ? parts.join("; ") : "everyone";
  }

  function actionCard(a, all, area) {
    const edit = guard(h("button", { type: "button" }, "Edit"), "action_automations");
    edit.addEventListener("click", () => { area.replaceChildren(actionForm(a, all)); area.querySelector("input, select").focus(); });
    const remove = guard(h("button", { type: "button", class: "danger" }, "Delete"), "action_automations");
    remove.addEventListener("click", async () => {
      if (!window.confirm(`Delete "${a.name}"? Messages already queued for it will be skipped.`)) return;
      try {
        await api("DELETE", `/action-automations/${seg(a.automation_id)}`);
        await renderActions();
        showSaved(`Deleted "${a.name}". Messages already queued for it will be skipped.`);
      } catch (e) { showError(e); }
    });
    // The card's own switch: on or off without opening the form.
    const toggle = guard(h("input", { type: "checkbox", role: "switch", checked: a.enabled, id: nextId("on") }),
      "action_automations");
    toggle.addEventListener("change", async () => {
      toggle.disabled = true;
      try {
        await api("PATCH", `/action-automations/${seg(a.automation_id)}`, { enabled: toggle.checked });
        await renderActions();
        showSaved(`"${a.name}" is ${toggle.checked ? "on" : "off"}.`);
      } catch (e) {
        toggle.checked = !toggle.checked;
        toggle.disabled = false;
        showError(e);
      }
    });
    const template = all.find((t) => t.template_id === a.template_id);
    const testRun = actionTestRunPanel(a);
    return h("article", { class: "card", "aria-labelledby": `act-${a.automation_id}` },
      h("div", { class: "card-head" },
        h("h2", { id: `act-${a.automation_id}` }, a.name),
        h("span", { class: `badge ${a.enabled ? "on" : "off"}` }, a.enabled ? "Active" : "Off"),
        h("label", { class: "switch", for: toggle.id }, toggle, "Enabled"),
        h("span", { class: "chip" }, ACTION_TYPES[a.type] || a.type)),
      h("p", { class: "meta" }, `Priority ${a.priority} · Audience: ${audienceText(a.audience || {})}`,
        a.points_threshold ? ` · Threshold ${a.points_threshold} points` : "",
        ` · Channels: ${a.channels.map((c) => CHANNELS[c]).join(", ")} · Template: ${template ? template.name : "system"}`),
      a.offer_text ? h("p", { class: "meta" }, `Offer: ${a.offer_text}`) : null,
      statsLine(a.stats, a.name),
      h("div", { class: "actions" }, edit, opener(testRun, "Test run"), remove), testRun);
  }

  // --- action-taken test-run ------------------------------------------------------------------------
  // The change each type listens for, as the test-run's form asks for it.
  const ACTION_CHANGE = {
    birthday_add: { field: "birthday", label: "Birthday added", type: "date", value: (v) => v },
    email_add: { field: "email", label: "Email added", type: "email", value: (v) => v },
    interest_add: { field: "interests", label: "Interests added (comma-separated)", type: "text", value: (v) => listOf(v) },
    app_download: { field: "app_installed_at", label: "App installed at", type: "datetime-local",
      value: (v) => (v ? new Date(v).toISOString().replace(/\.\d{3}Z$/, "Z") : v) },
    reward_available: { field: "points_balance", label: "Points balance becomes", type: "number", value: Number },
  };

  const ACTION_REASONS = {
    import: "an import never fires action-taken automations",
    no_enabled_automation: "no enabled automation for this event",
    audience_not_matched: "the customer is not in this automation's audience",
    already_fired: "this event already fired for the customer",
  };

  function actionTestRunPanel(a) {
    const change = ACTION_CHANGE[a.type];
    const panel = h("div", { class: "panel", hidden: true });
    const customer = h("input", { type: "text", name: "customer_id", required: true, autocomplete: "off" });
    const value = h("input", { type: change.type, name: change.field });
    const status = saveStatus();
    const result = h("div", { class: "result", "aria-live": "polite" });
    const form = h("form", { class: "grid", novalidate: "", "aria-label": `Test run of ${a.name}` },
      h("p", { class: "intro span-all" }, "What would happen if this customer's details changed so: which automation fires, or why none, and what each channel would do. Nothing is saved or sent; this automation counts as on."),
      labelled("Customer id", customer, { hint: "An existing customer, or a new id as a new customer." }),
      labelled(change.label, value, { field: `change.${change.field}` }),
      h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Run test"), status));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      status.textContent = "";
      result.replaceChildren();
      try {
        const r = await api("POST", "/action-automations/test-run", {
          customer_id: customer.value.trim(), automation_id: a.automation_id,
          change: { [change.field]: value.value === "" ? null : change.value(value.value) } });
        result.replaceChildren(...actionTestRunResult(a, r));
      } catch (e) {
        showError(e, form, status);
      }
    });
    panel.append(form, result);
    return panel;
  }

  function actionTestRunResult(a, r) {
    const lines = [h("p", {}, r.new_customer ? "A new customer." : "An existing customer.")];
    if (!r.events.length) lines.push(h("p", { class: "muted" }, "This change is no event: nothing would fire."));
    for (const e of r.events) {
      const who = e.name ? `"${e.name}"` : "No automation";
      if (!e.fires) {
        lines.push(h("p", {}, `${ACTION_TYPES[e.event] || e.event}: ${who} would not fire: ${ACTION_REASONS[e.reason] || e.reason}.`));
        continue;
      }
      const skipped = Object.entries(e.skipped || {}).map(([reason, n]) => `${n} skipped (${REASONS[reason] || reason})`);
      lines.push(h("p", { class: e.automation_id === a.automation_id ? "ok" : "" },
        `${ACTION_TYPES[e.event] || e.event}: ${who} would fire: ${e.would_send} message${e.would_send === 1 ? "" : "s"} would be sent`,
        skipped.length ? `, ${skipped.join(", ")}` : "", "."));
    }
    return lines;
  }

  const listOf = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

  function actionForm(a, all) {
    const creating = !a;
    const current = a || { type: "birthday_add", name: "", enabled: false, channels: ["email"], priority: 0, audience: {} };
    const audience = current.audience || {};
    const type = h("select", { name: "type", disabled: !creating }, Object.entries(ACTION_TYPES).map(([value, text]) =>
      h("option", { value, selected: value === current.type }, text)));
    const template = h("select", { name: "template_id" });
    const fillTemplates = () => template.replaceChildren(...templateOptions(all, type.value, current.template_id, current.template_id || `system:${type.value}`));
    fillTemplates();
    const threshold = labelled("Points threshold", h("input", { type: "number", name: "points_threshold", min: 1, value: current.points_threshold || "" }),
      { hint: "Fires when a customer's points rise to this number or past it." });
    const showThreshold = () => { threshold.hidden = type.value !== "reward_available"; fillTemplates(); };
    type.addEventListener("change", showThreshold);
    const status = saveStatus();
    const form = h("form", { class: "card grid", novalidate: "", "aria-label": creating ? "New action-taken automation" : `Edit ${current.name}` },
      h("h2", { class: "span-all" }, creating ? "New action-taken automation" : `Edit ${current.name}`),
      labelled("Type", type, { hint: creating ? null : "The type cannot change; create another automation instead." }),
      labelled("Name", h("input", { type: "text", name: "name", value: current.name, maxlength: 100, placeholder: "Default: the type's name" })),
      h("div", { class: "field" }, checkbox("Enabled", "enabled", current.enabled), h("p", { class: "field-error", dataset: { errorFor: "enabled", control: "" } })),
      channelPicker(current.channels),
      labelled("Template", template),
      labelled("Offer text", h("input", { type: "text", name: "offer_text", value: current.offer_text || "", maxlength: 500 }), { hint: "Shown to the customer as the offer, if the template uses it." }),
      labelled("Priority", h("input", { type: "number", name: "priority", value: current.priority, step: 1 }), { hint: "Higher wins when several match one event." }),
      labelled("Audience: any of these tags", h("input", { type: "text", name: "tags_any", value: (audience.tags_any || []).join(", ") }), { field: "audience.tags_any", hint: "Comma-separated; empty for everyone." }),
      labelled("Audience: any of these interests", h("input", { type: "text", name: "interests_any", value: (audience.interests_any || []).join(", ") }), { field: "audience.interests_any" }),
      labelled("Audience: at least this many points", h("input", { type: "number", name: "min_points", min: 0, value: audience.min_points ?? "" }), { field: "audience.min_points" }),
      threshold,
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "primary" }, creating ? "Create" : "Save"),
        h("button", { type: "button", onclick: () => form.remove() }, "Cancel"), status));
    showThreshold();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const f = form.elements;
      const integer = (value) => (value === "" ? null : Number(value));
      const body = {
        name: f.name.value.trim() || (creating ? undefined : current.name), enabled: f.enabled.checked, channels: chosenChannels(form),
        template_id: f.template_id.value || null, offer_text: f.offer_text.value.trim() || null,
        priority: f.priority.value === "" ? 0 : Number(f.priority.value),
      };
      const audience = { tags_any: listOf(f.tags_any.value), interests_any: listOf(f.interests_any.value), min_points: integer(f.min_points.value) };
      for (const key of Object.keys(audience)) if (audience[key] === null || !audience[key].toString().length) delete audience[key];
      body.audience = Object.keys(audience).length ? audience : null;
      if (type.value === "reward_available") body.points_threshold = integer(f.points_threshold.value);
      if (creating) body.type = type.value;
      for (const key of Object.keys(body)) if (body[key] === undefined || (creating && body[key] === null)) delete body[key];
      try {
        if (creating) await api("POST", "/action-automations", body);
        else await api("PATCH", `/action-automations/${seg(current.automation_id)}`, body);
        await renderActions();
        showSaved(creating ? "Created." : "Saved.");
      } catch (e) {
        showError(e, form, status);
      }
    });
    return form;
  }

  function showSaved(text) {
    const note = h("p", { role: "status", class: "saved", tabIndex: -1 }, text);
    main().querySelector("h1").after(note);
    note.focus();
  }

  // --- templates ------------------------------------------------------------------------------------
  // A type's name: the action-taken types' own, or the name of the type's system template.
  const typeName = (type) => {
    const system = (state.templates || []).find((t) => t.system && t.type === type);
    return ACTION_TYPES[type] || (system ? system.name : type.replace(/_/g, " "));
  };

  async function renderTemplates() {
    const all = await templates(true);
    const filter = h("select", { id: "template-type" }, h("option", { value: "" }, "All types"),
      [...new Set(all.map((t) => t.type))].map((type) => h("option", { value: type }, typeName(type))));
    const body = h("tbody");
    const fill = () => body.replaceChildren(...all.filter((t) => !filter.value || t.type === filter.value).map(templateRow));
    filter.addEventListener("change", fill);
    fill();
    render(
      h("h1", {}, "Templates"),
      h("p", { class: "intro" }, "Every automation has a system template. Duplicate one to write your own, then choose it in the automation's Configure panel."),
      h("div", { class: "row" }, labelled("Type", filter)),
      h("div", { class: "table-wrap" }, h("table", {},
        h("caption", { class: "muted" }, `${all.length} templates`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Kind"), h("th", { scope: "col" }, "Actions"))),
        body)));
  }

  // Duplicates the template and opens the copy in the editor.
  function duplicateButton(t, label) {
    const button = guard(h("button", { type: "button", "aria-label": label }, "Duplicate"), "templates");
    button.addEventListener("click", async () => {
      try {
        const copy = await api("POST", `/templates/${seg(t.template_id)}/duplicate`, {});
        state.templates = null;
        location.hash = `#/templates/${seg(copy.template_id)}`;
      } catch (e) { showError(e); }
    });
    return button;
  }

  function templateRow(t) {
    const actions = [h("a", { class: "button", href: `#/templates/${seg(t.template_id)}`, "aria-label": `${t.system ? "View" : "Edit"} ${t.name}` }, t.system ? "View" : "Edit"),
      duplicateButton(t, `Duplicate ${t.name}`)];
    if (!t.system) {
      const remove = guard(h("button", { type: "button", class: "danger", "aria-label": `Delete ${t.name}` }, "Delete"), "templates");
      remove.addEventListener("click", async () => {
        if (!window.confirm(`Delete the template "${t.name}"?`)) return;
        try {
          await api("DELETE", `/templates/${seg(t.template_id)}`);
          await renderTemplates();
        } catch (e) { showError(e); }
      });
      actions.push(remove);
    }
    return h("tr", {}, h("td", {}, t.name), h("td", {}, typeName(t.type)), h("td", {}, t.system ? "System" : "Yours"),
      h("td", {}, h("div", { class: "actions" }, actions)));
  }

  const PART_HINTS = {
    body_text: "The message only: your logo, the store's details and the unsubscribe link are added around it. A blank line starts a paragraph, web addresses become links, **bold** is bold.",
    body_html: "The email's HTML, inside the same layout. Variables are escaped.",
  };

  // Inserts `{{ name }}` at the cursor of the part last written in (the message at first), as if typed.
  function variablePicker(form, variables, editable) {
    let target = form.elements.body_text;
    form.addEventListener("focusin", (event) => {
      if (PARTS.some(([part]) => event.target.name === part)) target = event.target;
    });
    const insert = (name) => {
      const text = `{{ ${name} }}`;
      const start = target.selectionStart ?? target.value.length;
      const end = target.selectionEnd ?? start;
      target.focus();
      target.setRangeText(text, start, end, "end");
      target.dispatchEvent(new Event("input", { bubbles: true }));
    };
    const buttons = variables.map((name) => guard(h("button", { type: "button", class: "tpl-var", disabled: !editable,
      title: `Insert {{ ${name} }} at the cursor`, onclick: () => insert(name) }, name), "templates"));
    return h("div", { class: "field tpl-vars" },
      h("p", { class: "tpl-vars-title", id: "tpl-vars-title" }, "Insert a variable"),
      h("div", { role: "group", "aria-labelledby": "tpl-vars-title", class: "tpl-var-list" }, buttons),
      h("p", { class: "hint" }, "Adds it where the cursor is in the subject, message, HTML or SMS. A variable without a value for a customer prints nothing."));
  }

  async function renderTemplateEditor(templateId) {
    const [t] = await Promise.all([api("GET", `/templates/${seg(templateId)}`), templates()]);
    const editable = !t.system && mayChange("templates");
    const form = h("form", { class: "card", "aria-label": "Template" });
    const name = h("input", { type: "text", name: "name", value: t.name, maxlength: 100, disabled: !editable });
    form.append(labelled("Name", name));
    const fields = {};
    for (const [part, label, kind] of PARTS) {
      const control = kind === "input"
        ? h("input", { type: "text", name: part, value: t[part] || "", disabled: !editable })
        : h("textarea", { name: part, rows: part === "sms_body" ? 4 : 8, disabled: !editable }, t[part] || "");
      fields[part] = labelled(label, control, { hint: PART_HINTS[part] });
    }
    // How the email's HTML is made: from the message, or written by the store.
    const modes = [["auto", "Made from the message"], ["custom", "My own HTML"]].map(([value, text]) =>
      h("label", { class: "check" }, h("input", { type: "radio", name: "html_mode", value, checked: t.html_mode === value, disabled: !editable }), text));
    const mode = h("fieldset", { class: "field tpl-mode" }, h("legend", {}, "Email HTML"), ...modes,
      h("p", { class: "field-error", dataset: { errorFor: "html_mode", control: "" } }));
    const showMode = () => { fields.body_html.hidden = form.elements.html_mode.value !== "custom"; };
    form.append(fields.subject, fields.body_text, mode, fields.body_html, fields.sms_body,
      variablePicker(form, t.variables || [], editable));
    showMode();
    const status = saveStatus();
    const save = h("button", { type: "submit", class: "primary", disabled: !editable }, "Save");
    form.append(h("div", { class: "form-actions" }, save, status));
    const parts = () => {
      const body = { html_mode: form.elements.html_mode.value };
      for (const [part] of PARTS) body[part] = form.elements[part].value;
      if (body.html_mode !== "custom") delete body.body_html;
      return body;
    };

    // The preview: rendered by the API for the chosen customer (or a sample one) from the unsaved text.
    const who = h("input", { type: "text", name: "preview_customer", placeholder: "Sample customer", autocomplete: "off" });
    const pick = h("button", { type: "button" }, "Preview for this customer");
    const previewStatus = h("p", { role: "status", class: "muted" });
    // While an edit does not render, the preview keeps the last one that did, and says so.
    const stale = h("p", { class: "stale-note", "aria-live": "polite", hidden: true },
      "Out of date: this is the last version that worked. Fix the error to see your change.");
    const subject = h("p", { class: "pv-subject" });
    const text = h("pre", { class: "pv-text" });
    const frame = h("iframe", { title: "Email preview", sandbox: "" });
    const sms = h("pre", { class: "pv-sms" });
    const smsCount = h("p", { class: "muted" });
    const panel = h("section", { class: "preview", "aria-labelledby": "preview-title" });
    let customerId = null;
    let sequence = 0;
    async function refresh() {
      const mine = ++sequence;
      clearErrors(form);
      const body = parts();
      if (customerId) body.customer_id = customerId;
      try {
        const r = await api("POST", `/templates/${seg(t.template_id)}/preview`, body);
        if (mine !== sequence) return;
        previewStatus.textContent = customerId ? `For customer ${customerId}.` : "For a sample customer.";
        previewStatus.className = "muted";
        panel.classList.remove("is-stale");
        stale.hidden = true;
        subject.textContent = r.subject;
        text.textContent = r.email_text;
        frame.srcdoc = r.email_html;
        sms.textContent = r.sms_body;
        smsCount.textContent = `${r.sms_body.length} characters`;
      } catch (e) {
        if (mine !== sequence) return;
        if (subject.textContent) { panel.classList.add("is-stale"); stale.hidden = false; }
        showError(e, form, previewStatus);
        if (e.field === "customer_id") showError(e, null, previewStatus);
      }
    }
    let timer = null;
    form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 250); });
    form.addEventListener("change", (event) => { if (event.target.name === "html_mode") { showMode(); refresh(); } });
    pick.addEventListener("click", async () => {
      const value = who.value.trim();
      previewStatus.textContent = "";
      if (!value) { customerId = null; refresh(); return; }
      try {
        customerId = value.includes("@") ? await customerByEmail(value) : value;
        refresh();
      } catch (e) { showError(e, null, previewStatus); }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      status.textContent = "";
      const body = { name: name.value, ...parts() };
      try {
        await api("PATCH", `/templates/${seg(t.template_id)}`, body);
        state.templates = null;
        status.className = "saved";
        status.textContent = "Saved.";
      } catch (e) {
        showError(e, form, status);
      }
    });
    const duplicate = duplicateButton(t);
    panel.append(h("h2", { id: "preview-title" }, "Preview"),
      h("div", { class: "row" }, labelled("Customer id or email", who), pick),
      previewStatus, stale,
      h("h3", {}, "Subject"), subject, h("h3", {}, "Email"), frame, h("h3", {}, "Plain-text email"), text,
      h("h3", {}, "SMS"), sms, smsCount);
    render(
      h("h1", {}, t.system ? `${t.name} (system template)` : `Edit template: ${t.name}`),
      h("p", { class: "intro" }, `For ${typeName(t.type)} automations. `,
        t.system ? "System templates cannot be changed: duplicate it to write your own." : "Changes apply to the next message sent after you save."),
      h("div", { class: "actions" }, h("a", { class: "button", href: "#/templates" }, "All templates"), duplicate),
      h("div", { class: "editor" }, form, panel));
    await refresh();
  }

  // The Configure panel's way to a template of one's own: copy the type's system template and open it.
  function duplicateSystemTemplate(type) {
    const button = duplicateButton({ template_id: `system:${type}` });
    button.textContent = "Duplicate the system template";
    return h("div", { class: "form-actions" }, button);
  }
  // --- end templates ---

  async function customerByEmail(email) {
    const found = (await api("GET", `/customers?email=${encodeURIComponent(email)}`)).customers;
    if (!found.length) throw new ApiError(404, { code: "not_found", message: `No customer has the email ${email}.` });
    return found[0].customer_id;
  }

  // --- settings -------------------------------------------------------------------------------------
  const SETTING_FIELDS = [
    ["store_name", "Store name", "text"], ["timezone", "Time zone", "timezone"], ["send_hour", "Send hour", "hour"],
    ["country", "Country (two letters)", "text", "Decides the date of Mother's Day (GB and IE: Mothering Sunday)."],
    ["sender_email", "Sender email", "email", "Must be an address of a domain verified in SES."],
    ["reply_to", "Reply-to email", "email"], ["sms_sender_id", "SMS sender id", "text", "1-11 letters and digits."],
    ["store_phone", "Store phone", "text"], ["store_address", "Store address", "text"],
    ["store_website", "Store website", "text"], ["special_offer", "Special offer (re-engagement)", "text"],
    ["review_url", "Review link (post-purchase)", "text"],
    ["logo_url", "Logo (an https address of an image)", "url", "Shown at the top of every email; without one, the store's name."],
    ["brand_color", "Brand colour", "color", "The bar at the top of every email and its links."],
    ["retention_days", "Keep message contents (days)", "days", "Each message's address, subject and text are deleted from the history this many days after it was sent (1-3,650); its date, outcome and reason stay."],
    ["attribution_days", "Attribution window (days)", "number", "A sale this many days or fewer after a marketing email counts as that email's revenue (1-90)."],
    ["currency", "Currency (three letters)", "text", "Revenue is shown in it, such as AUD or USD."],
  ];

  // "Sydney", "new york" or "Australia/Sydney": the one zone so named, or the text as typed (the API then
  // says what is wrong with it).
  function zoneNamed(text) {
    const zones = state.config.timezones;
    if (zones.includes(text)) return text;
    const wanted = text.toLowerCase().replace(/\s+/g, "_");
    const found = zones.filter((z) => z.toLowerCase() === wanted || z.toLowerCase().split("/").pop() === wanted);
    return found.length === 1 ? found[0] : text;
  }

  async function renderSettings() {
    const current = (await api("GET", "/settings")).settings;
    state.settings = current;
    const form = h("form", { class: "card grid", novalidate: "", "aria-label": "Settings" });
    const zones = h("datalist", { id: "timezones" }, state.config.timezones.map((z) => h("option", { value: z })));
    for (const [name, label, kind, hint] of SETTING_FIELDS) {
      let control;
      if (kind === "hour") {
        control = h("select", { name }, Array.from({ length: 24 }, (_, hour) =>
          h("option", { value: String(hour), selected: hour === current.send_hour }, `${String(hour).padStart(2, "0")}:00`)));
      } else if (kind === "timezone") {
        control = h("input", { type: "text", name, list: "timezones", value: current.timezone, autocomplete: "off", spellcheck: "false" });
      } else if (kind === "days") {
        control = h("input", { type: "number", name, min: 1, max: 3650, inputmode: "numeric", value: current[name] ?? "" });
      } else {
        control = h("input", { type: kind, name, value: current[name] ?? "", ...(kind === "number" ? { min: 1, max: 90, inputmode: "numeric" } : {}) });
      }
      form.append(labelled(label, guard(control, "settings"), {
        hint: kind === "timezone" ? "Type to search, such as Sydney or New_York." : kind === "hour" ? "Daily automations send from this local hour." : hint,
      }));
    }
    const quiet = current.quiet_hours || { start: "21:00", end: "09:00" };
    form.append(h("fieldset", { class: "field" }, h("legend", {}, "Quiet hours (marketing SMS wait until they end)"),
      h("div", { class: "row" },
        labelled("From", guard(h("input", { type: "time", name: "quiet_start", value: quiet.start }), "settings"), { field: "quiet_hours.start" }),
        labelled("Until", guard(h("input", { type: "time", name: "quiet_end", value: quiet.end }), "settings"), { field: "quiet_hours.end" }))));
    const cap = current.frequency_cap;
    const capped = h("input", { type: "checkbox", name: "cap_on", checked: Boolean(cap) });
    const max = guard(h("input", { type: "number", name: "cap_max", min: 1, max: 100, value: cap ? cap.max_messages : 2 }), "settings");
    const days = guard(h("input", { type: "number", name: "cap_days", min: 1, max: 365, value: cap ? cap.per_days : 7 }), "settings");
    const syncCap = () => { max.disabled = days.disabled = !capped.checked || !mayChange("settings"); };
    capped.addEventListener("change", syncCap);
    form.append(h("fieldset", { class: "field" }, h("legend", {}, "Frequency cap"),
      h("label", { class: "check" }, guard(capped, "settings"), "Limit marketing messages per customer"),
      h("div", { class: "row" },
        labelled("At most (messages)", max, { field: "frequency_cap.max_messages" }),
        labelled("In (days)", days, { field: "frequency_cap.per_days" }))));
    syncCap();
    const status = saveStatus();
    form.append(h("div", { class: "form-actions" }, guard(h("button", { type: "submit", class: "primary" }, "Save settings"), "settings"), status));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      status.textContent = "";
      const f = form.elements;
      const changes = {};
      for (const [name, , kind] of SETTING_FIELDS) {
        let value = f[name].value.trim();
        if (kind === "hour") value = Number(value);
        else if ((kind === "days" || kind === "number") && value !== "") value = /^\d+$/.test(value) ? Number(value) : value;
        else if (kind === "timezone") value = zoneNamed(value);
        else if (value === "" && name !== "store_name") value = null;
        if (value !== (current[name] ?? null)) changes[name] = value;
      }
      const quietNow = { start: f.quiet_start.value, end: f.quiet_end.value };
      if (quietNow.start !== quiet.start || quietNow.end !== quiet.end) changes.quiet_hours = quietNow;
      const capNow = capped.checked ? { max_messages: Number(max.value), per_days: Number(days.value) } : null;
      if (JSON.stringify(capNow) !== JSON.stringify(cap || null)) changes.frequency_cap = capNow;
      if (!Object.keys(changes).length) { status.className = "saved"; status.textContent = "Nothing to save."; return; }
      try {
        state.settings = (await api("PATCH", "/settings", changes)).settings;
        renderShell();
        await renderSettings();
        showSaved("Settings saved.");
      } catch (e) {
        showError(e, form, status);
      }
    });
    render(h("h1", {}, "Settings"),
      h("p", { class: "intro" }, "Dates and hours are the store's local time."), zones, form);
    form.after(senderReadiness());
  }

  // A table filled a page at a time from a list route that answers `next_cursor`: `load()` fetches the
  // first page, `more` the next; `shown` hears how many rows are in the table.
  function pager(path, key, body, more, row, shown) {
    let cursor = null;
    let rows = 0;
    const load = async () => {
      const page = await api("GET", `${path}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      append(body, page[key].map(row));
      rows += page[key].length;
      if (shown) shown(rows);
      cursor = page.next_cursor;
      more.hidden = !cursor;
    };
    more.addEventListener("click", () => load().catch((e) => showError(e)));
    return load;
  }

  // --- customers ------------------------------------------------------------------------------------
  async function renderCustomers() {
    const results = h("div", { id: "customer-results" });
    const add = guard(h("button", { type: "button", class: "primary" }, "Add customer"), "customers");
    const area = h("div", { id: "customer-add-area" });
    add.addEventListener("click", () => { area.replaceChildren(customerAddForm()); area.querySelector("input").focus(); });
    render(h("h1", {}, "Customers"),
      h("p", { class: "intro" }, "Find a customer by name, email or phone to see and edit their details and read every message sent, skipped, deferred or failed for them, and why."),
      customerCounts(), customerSearchBox(results), h("div", { class: "actions" }, add), area, results);
    await showCustomerResults(results, "");
  }

  async function renderCustomer(customerId) {
    const [c] = await Promise.all([api("GET", `/customers/${seg(customerId)}`), templates()]);
    const communications = communicationsHistory(customerId);
    const row = (label, value) => [h("dt", {}, label), h("dd", {}, value === undefined || value === null || value === "" ? "—" : String(value))];
    render(
      h("h1", {}, [c.first_name, c.last_name].filter(Boolean).join(" ") || c.customer_id),
      h("div", { class: "actions" }, h("a", { class: "button", href: "#/customers" }, "All customers")),
      h("section", { class: "card result", "aria-label": "Customer" }, h("dl", {},
        row("Id", c.customer_id), row("Points", c.points_balance))),
      customerDetails(c),
      communications.element);
    main().append(messageComposer(c), ...await customerPageSections(c), erasureSection(c));
    await communications.load();
  }

  // Erasing a customer (docs/behaviour.md section 7, "Erasure"): asked twice, as it cannot be undone.
  function erasureSection(c) {
    const titleId = nextId("erase");
    const name = [c.first_name, c.last_name].filter(Boolean).join(" ") || c.customer_id;
    const line = h("p", { role: "status", class: "field-error" });
    const erase = guard(h("button", { type: "button", class: "danger" }, "Erase customer"), "customers");
    erase.addEventListener("click", async () => {
      if (!window.confirm(`Erase ${name}? Their details, notes and the addresses and texts of their messages are deleted for good; the history keeps only what was sent when, and how it ended.`)) return;
      erase.disabled = true;
      try {
        await api("DELETE", `/customers/${seg(c.customer_id)}`);
        const moved = new Promise((resolve) => window.addEventListener("hashchange", resolve, { once: true }));
        location.hash = "#/customers";
        await moved;
        await routing;
        showSaved(`${name} was erased.`);
      } catch (e) {
        erase.disabled = false;
        showError(e, null, line);
      }
    });
    return h("section", { class: "card erase-section", "aria-labelledby": titleId },
      h("h2", { id: titleId }, "Erase this customer"),
      h("p", { class: "muted" }, "For a customer who asks to be forgotten. Their suppressed addresses stay suppressed, without being kept."),
      h("div", { class: "actions" }, erase), line);
  }

  // --- 1:1 email ------------------------------------------------------------------------------------
  // A message a member of staff writes to one customer, sent while they wait (POST /customers/{id}/messages).
  // One Idempotency-Key per composed message: a double click, or trying again after an answer that left it
  // unsent (no connection, the provider unavailable), never sends twice. A message sent keeps its key until
  // its text is edited (sending it again answers "Sent." and sends nothing); a refused one (the provider,
  // suppressed, no address) gets a new key at once, so trying again once the cause is fixed is a new message.
  const newKey = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`);

  // POST with the key; answers { status, data } for every answer the API gives (errors carry the record).
  async function postMessage(customerId, message, key) {
    const request = () => fetch(new URL(`customers/${seg(customerId)}/messages`, API), {
      method: "POST", body: JSON.stringify(message),
      headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}`, "Content-Type": "application/json", "Idempotency-Key": key },
    });
    let response;
    try {
      response = await request();
      if (response.status === 401 && await refreshed()) response = await request();
    } catch (e) {
      return { status: 0, data: { error: { code: "network", message: "The server could not be reached: nothing was sent. Try again." } } };
    }
    if (response.status === 401) {
      signOut("Your session has ended: sign in again.");
      return { status: 401, data: { error: { message: "Your session has ended." } } };
    }
    const data = await response.json().catch(() => null);
    return { status: response.status, data: data || { error: { message: `The server answered ${response.status}.` } } };
  }

  function messageComposer(customer) {
    const section = h("section", { class: "card compose", "aria-label": "Write an email" }, h("h2", {}, "Write an email"));
    if (!mayChange("messages")) {
      return append(section, [h("p", { class: "muted" }, `You are signed in as ${state.me.role}: you can read this customer's messages but not send one.`)]);
    }
    let key = newKey();
    let recent = { recent_messages: 0, recent_days: 7, confirm_from: 3 };
    const subject = h("input", { type: "text", name: "subject", maxLength: 200, autocomplete: "off" });
    const text = h("textarea", { name: "body", rows: 8 });
    const count = h("p", { class: "meta msg-recent", role: "status" });
    const confirmBox = h("input", { type: "checkbox", name: "confirm_recent" });
    const confirmField = h("div", { class: "field", hidden: true },
      h("label", { class: "check" }, confirmBox, h("span", { class: "msg-confirm-text" })),
      h("p", { class: "field-error", dataset: { errorFor: "confirm_recent", control: "" } }));
    const send = h("button", { type: "submit", class: "primary" }, "Send email");
    const status = h("p", { role: "status", class: "msg-status" });
    const form = h("form", { novalidate: "", "aria-label": "Email to the customer" },
      customer.email ? h("p", { class: "meta" }, `To ${customer.email}, from the store's sender address. Plain text: line breaks are kept.`)
        : h("p", { class: "field-error" }, "This customer has no email address."),
      labelled("Subject", subject), labelled("Message", text), count, confirmField,
      h("div", { class: "form-actions" }, send, status));
    const showRecent = (answer) => {
      recent = { ...recent, ...answer };
      const n = recent.recent_messages;
      count.textContent = `${plural(n, "message")} sent to this customer in the last ${recent.recent_days} days.`;
      confirmField.hidden = n < recent.confirm_from;
      confirmField.querySelector(".msg-confirm-text").textContent = `Yes, send another: they received ${plural(n, "message")} this week.`;
    };
    const changed = () => { if (status.dataset.final) { key = newKey(); delete status.dataset.final; } };
    subject.addEventListener("input", changed);
    text.addEventListener("input", changed);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (send.disabled) return;
      clearErrors(form);
      status.className = "msg-status";
      status.textContent = "";
      if (!confirmField.hidden && !confirmBox.checked) {
        confirmField.querySelector(".field-error").textContent = "Confirm that you want to send another message.";
        return;
      }
      send.disabled = true;
      status.textContent = "Sending…";
      const { status: code, data } = await postMessage(customer.customer_id, { subject: subject.value, body: text.value }, key);
      send.disabled = false;
      if (data && data.recent_messages !== undefined) showRecent(data);
      const error = (data && data.error) || {};
      if (code === 201) {
        status.className = "msg-status saved";
        status.textContent = "Sent.";
        status.dataset.final = "yes";
        confirmBox.checked = false;
        return;
      }
      if (code === 400) {
        showError(new ApiError(code, error), form, status);
        return;
      }
      status.className = "msg-status field-error";
      const why = error.reason ? ` (${reason(error.reason)}${error.provider_code ? `: ${error.provider_code}` : ""})` : "";
      status.textContent = `Not sent: ${error.message || "the server did not answer"}${why}.`;
      if (code === 409 || code === 502) key = newKey();   // refused for good: sending again is a new message
    });
    api("GET", `/customers/${seg(customer.customer_id)}/messages`).then(showRecent).catch(() => { count.textContent = ""; });
    return append(section, [form]);
  }

  // --- sender readiness -----------------------------------------------------------------------------
  // Whether SES will send from the store's sender (GET /settings/sender), and what to do when it will not.
  function senderReadiness() {
    const section = h("section", { class: "card sender-readiness", "aria-label": "Sender readiness" },
      h("h2", {}, "Sender readiness"), h("p", { class: "meta" }, "Asking SES…"));
    api("GET", "/settings/sender").then((s) => {
      const sandbox = s.production_access === true ? "out of the sandbox: sends to anyone"
        : s.production_access === false ? "in the sandbox: sends only to verified addresses" : "not reported";
      section.replaceChildren(h("h2", {}, "Sender readiness"),
        h("p", { class: `sender-state ${s.ready ? "status-sent" : "status-failed"}` },
          s.sender_email ? `${s.sender_email}: ${s.verified ? "verified in SES" : "not verified in SES"}` : "No sender address set."),
        s.identities.length ? h("ul", { class: "sender-identities" }, s.identities.map((i) =>
          h("li", {}, `${i.identity}: ${i.status === "Success" ? "verified" : i.status.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase()}`))) : null,
        s.sender_email ? h("p", { class: "meta" }, `SES account: ${sandbox}.`) : null,
        s.actions.length ? h("ul", { class: "sender-actions" }, s.actions.map((a) => h("li", {}, a))) : null);
    }).catch((e) => { section.replaceChildren(h("h2", {}, "Sender readiness"), h("p", { class: "field-error" }, e.message)); });
    return section;
  }

  // --- customers: search, add, details ---------------------------------------------------------------
  // The customers page searches as one types (by the start of a name or email, or by phone digits); the
  // customer page's "Details" section edits what the store knows of them.
  const SEARCH_DELAY_MS = 250;
  const fullName = (c) => [c.first_name, c.last_name].filter(Boolean).join(" ");
  const isVipTag = (tag) => tag.toLowerCase() === "vip";

  // Customers, VIP and inactive 90+ days: the built-in segments' counts and the count of everyone.
  function customerCounts() {
    const figure = (label, href) => {
      const value = h("strong", {}, "…");
      return [value, h("li", {}, href ? h("a", { href }, value, ` ${label}`) : [value, ` ${label}`])];
    };
    const [total, totalItem] = figure("customers");
    const [vip, vipItem] = figure("VIP", "#/segments/vip");
    const [inactive, inactiveItem] = figure("inactive 90+ days", "#/segments/inactive_90");
    (async () => {
      try {
        const [segments, everyone] = await Promise.all([api("GET", "/segments"), api("POST", "/segments/count", { filter: {} })]);
        const count = (id) => (segments.segments.find((s) => s.segment_id === id) || {}).count;
        total.textContent = everyone.count;
        vip.textContent = count("vip") ?? "—";
        inactive.textContent = count("inactive_90") ?? "—";
      } catch (e) {
        for (const el of [total, vip, inactive]) el.textContent = "—";
      }
    })();
    return h("ul", { class: "counts", "aria-label": "Customer counts" }, totalItem, vipItem, inactiveItem);
  }

  // A search box that asks the API as one types, a moment after the last key; an answer that arrives after
  // a newer one was asked for is dropped.
  function customerSearchBox(results) {
    const query = h("input", { type: "search", name: "q", autocomplete: "off", spellcheck: "false", maxlength: 100 });
    const form = h("form", { role: "search", "aria-label": "Find a customer" },
      labelled("Search customers", query, { hint: "The start of a first name, last name, full name or email, or 4+ digits of a phone number." }));
    let timer = null;
    const ask = () => { clearTimeout(timer); showCustomerResults(results, query.value.trim()); };
    query.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, SEARCH_DELAY_MS); });
    form.addEventListener("submit", (event) => { event.preventDefault(); ask(); });
    return form;
  }

  let searchSequence = 0;
  async function showCustomerResults(results, text) {
    const mine = ++searchSequence;
    const body = h("tbody");
    const more = h("button", { type: "button", hidden: true }, "More customers");
    const summary = h("p", { role: "status", class: "muted" });
    const path = text ? `/customers?q=${encodeURIComponent(text)}&limit=20` : "/customers?limit=20";
    const load = pager(path, "customers", body, more, customerRow, (shown) => {
      summary.textContent = shown ? `${plural(shown, "customer")} shown${text ? ` for “${text}”` : ""}.` : (text ? `No customer matches “${text}”.` : "No customers yet.");
    });
    const table = h("div", { class: "table-wrap" }, h("table", { "aria-label": text ? "Customers found" : "Customers" },
      h("thead", {}, h("tr", {}, ["Name", "Email", "Phone", "VIP", "Last active"].map((t) => h("th", { scope: "col" }, t)))), body));
    try {
      await load();
    } catch (e) {
      if (mine !== searchSequence) return;
      results.replaceChildren(h("p", { role: "alert", class: "field-error" }, e.message));
      return;
    }
    if (mine !== searchSequence) return;
    results.replaceChildren(h("h2", {}, text ? "Search results" : "All customers"), summary, table, h("div", { class: "actions" }, more));
  }

  function customerRow(c) {
    return h("tr", { dataset: { customer: c.customer_id } },
      h("th", { scope: "row" }, h("a", { href: `#/customers/${seg(c.customer_id)}` }, fullName(c) || c.customer_id)),
      h("td", {}, c.email || ""), h("td", {}, c.phone || ""),
      h("td", { class: "vip" }, c.is_vip ? h("span", { class: "badge on" }, "VIP") : ""),
      h("td", {}, c.last_activity_at ? whenEl(c.last_activity_at) : ""));
  }

  // A new customer's id: random, in the characters ids may hold.
  function newCustomerId() {
    const bytes = crypto.getRandomValues(new Uint8Array(10));
    return `c-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  }

  // An API error about one item of a list (`tags[2]`) belongs beside the list's field.
  function showCustomerError(err, form, status) {
    if (err instanceof ApiError && err.field && /\[\d+\]$/.test(err.field)) {
      const base = err.field.replace(/\[\d+\]$/, "");
      err = new ApiError(err.status, { code: err.code, message: `${err.message} (item ${Number(err.field.match(/\[(\d+)\]$/)[1]) + 1})`, field: base });
    }
    showError(err, form, status);
  }

  const DATE_HINT = "YYYY-MM-DD, or --MM-DD without the year.";
  // [name, label, type, hint]: the fields the add form and the Details section edit.
  const CUSTOMER_FORM_FIELDS = [
    ["first_name", "First name", "text"], ["last_name", "Last name", "text"],
    ["email", "Email", "email"], ["phone", "Phone", "tel", "E.164, such as +61412345678."],
    ["birthday", "Birthday", "text", DATE_HINT], ["anniversary", "Anniversary", "text", DATE_HINT],
    ["tags", "Tags", "list", "Comma-separated."], ["interests", "Interests", "list", "Comma-separated."],
  ];

  function customerFields(c, names) {
    return CUSTOMER_FORM_FIELDS.filter(([name]) => names.includes(name)).map(([name, label, type, hint]) => {
      let value = c[name] ?? "";
      if (type === "list") value = (c[name] || []).filter((t) => name !== "tags" || !isVipTag(t)).join(", ");
      const control = guard(h("input", { type: type === "list" ? "text" : type, name, value, autocomplete: "off" }), "customers");
      return labelled(label, control, { hint });
    });
  }

  // What the form says, as the API takes it: an emptied field is null, lists are split at commas.
  function customerBody(form, names) {
    const body = {};
    for (const [name, , type] of CUSTOMER_FORM_FIELDS) {
      if (!names.includes(name)) continue;
      const text = form.elements[name].value.trim();
      body[name] = type === "list" ? (text ? listOf(text) : null) : (text || null);
    }
    return body;
  }

  function customerAddForm() {
    const names = ["first_name", "last_name", "email", "phone"];
    const form = h("form", { class: "card grid", novalidate: "", "aria-label": "Add customer" },
      h("h2", { class: "span-all" }, "Add customer"), customerFields({}, names),
      h("label", { class: "check span-all" }, guard(h("input", { type: "checkbox", name: "is_vip" }), "customers"), "VIP"));
    const status = saveStatus();
    form.append(h("div", { class: "form-actions" },
      guard(h("button", { type: "submit", class: "primary" }, "Add customer"), "customers"),
      h("button", { type: "button", onclick: () => form.remove() }, "Cancel"), status));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      status.textContent = "";
      const body = Object.fromEntries(Object.entries(customerBody(form, names)).filter(([, value]) => value !== null));
      if (form.elements.is_vip.checked) body.is_vip = true;
      try {
        const saved = await api("PUT", `/customers/${newCustomerId()}`, body);
        location.hash = `#/customers/${seg(saved.customer_id)}`;
      } catch (e) {
        showCustomerError(e, form, status);
      }
    });
    return form;
  }

  // The customer page's "Details" section: every field the store keeps by hand, saved together, and the VIP
  // switch, which writes the VIP tag at once.
  function customerDetails(c) {
    const names = CUSTOMER_FORM_FIELDS.map(([name]) => name);
    const status = saveStatus();
    const vipStatus = h("span", { role: "status", class: "saved" });
    const vip = guard(h("input", { type: "checkbox", role: "switch", name: "is_vip", checked: Boolean(c.is_vip) }), "customers");
    vip.addEventListener("change", async () => {
      vipStatus.textContent = "";
      try {
        const saved = await api("PATCH", `/customers/${seg(c.customer_id)}`, { is_vip: vip.checked });
        vip.checked = Boolean(saved.is_vip);
        vipStatus.className = "saved";
        vipStatus.textContent = saved.is_vip ? "VIP." : "Not VIP.";
      } catch (e) {
        vip.checked = !vip.checked;
        showError(e, null, vipStatus);
      }
    });
    const form = h("form", { class: "grid", novalidate: "", "aria-label": "Customer details" }, customerFields(c, names));
    form.append(h("div", { class: "form-actions" }, guard(h("button", { type: "submit", class: "primary" }, "Save details"), "customers"), status));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      status.textContent = "";
      // The tags box holds the tags besides VIP; the switch says whether VIP is one of them.
      const body = { ...customerBody(form, names), is_vip: vip.checked };
      try {
        const saved = await api("PATCH", `/customers/${seg(c.customer_id)}`, body);
        Object.assign(c, saved);
        status.className = "saved";
        status.textContent = "Details saved.";
        const heading = main().querySelector("h1");
        if (heading) heading.textContent = fullName(saved) || saved.customer_id;
      } catch (e) {
        showCustomerError(e, form, status);
      }
    });
    return h("section", { class: "card", "aria-labelledby": "details-title", id: "customer-details" },
      h("h2", { id: "details-title" }, "Details"),
      h("label", { class: "switch" }, vip, "VIP"), vipStatus, form);
  }

  // --- segments -------------------------------------------------------------------------------------
  // The conditions a custom segment's filter may hold (docs/behaviour.md section 10), as form controls:
  // [name, label, kind, hint]. All the filled ones must hold; an empty form is everyone.
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
  const CONDITION_FIELDS = [
    ["tags_any", "Has any of these tags", "list", "Comma-separated."], ["tags_all", "Has all of these tags", "list"],
    ["tags_none", "Has none of these tags", "list"], ["interests_any", "Has any of these interests", "list"],
    ["vip", "VIP", "bool"], ["points_min", "Points at least", "int"], ["points_max", "Points at most", "int"],
    ["inactive_days_min", "Inactive for at least (days)", "int", "Last activity at least this many days before today."],
    ["active_within_days", "Active in the last (days)", "int"], ["created_within_days", "Created in the last (days)", "int"],
    ["purchased_within_days", "Bought in the last (days)", "int"],
    ["birthday_month", "Birthday month", "month"], ["anniversary_month", "Anniversary month", "month"],
    ["has_email", "Has an email address", "bool"], ["has_phone", "Has a phone number", "bool"],
    ["consent_email", "Consents to email", "bool"], ["consent_sms", "Consents to SMS", "bool"],
  ];
  const CONDITION_LABELS = Object.fromEntries(CONDITION_FIELDS.map(([name, label]) => [name, label]));

  function conditionsText(filter) {
    const parts = Object.entries(filter || {}).map(([name, value]) => {
      const label = CONDITION_LABELS[name] || name.replace(/_/g, " ");
      if (Array.isArray(value)) return `${label}: ${value.join(", ")}`;
      if (typeof value === "boolean") return `${label}: ${value ? "yes" : "no"}`;
      if (name.endsWith("_month")) return `${label}: ${MONTHS[value - 1]}`;
      return `${label}: ${value}`;
    });
    return parts.length ? parts.join("; ") : "Everyone";
  }

  // The filter builder: a fieldset of every condition; `read()` answers the filter the filled ones make.
  function filterBuilder(filter, resource) {
    const current = filter || {};
    const controls = {};
    const fields = CONDITION_FIELDS.map(([name, label, kind, hint]) => {
      const value = current[name];
      let control;
      if (kind === "bool") {
        control = h("select", { name }, [["", "Any"], ["true", "Yes"], ["false", "No"]].map(([v, text]) =>
          h("option", { value: v, selected: value === undefined ? v === "" : String(value) === v }, text)));
      } else if (kind === "month") {
        control = h("select", { name }, h("option", { value: "" }, "Any"),
          MONTHS.map((m, i) => h("option", { value: String(i + 1), selected: value === i + 1 }, m)));
      } else if (kind === "int") {
        control = h("input", { type: "number", name, min: 0, step: 1, inputmode: "numeric", value: value ?? "" });
      } else {
        control = h("input", { type: "text", name, value: (value || []).join(", "), autocomplete: "off" });
      }
      controls[name] = [control, kind];
      return labelled(label, guard(control, resource), { field: `filter.${name}`, hint });
    });
    const element = h("fieldset", { class: "field span-all" }, h("legend", {}, "Conditions (all must hold; leave a condition empty to ignore it)"),
      h("div", { class: "grid" }, fields));
    const read = () => {
      const out = {};
      for (const [name, [control, kind]] of Object.entries(controls)) {
        const raw = control.value.trim();
        if (raw === "") continue;
        if (kind === "bool") out[name] = raw === "true";
        else if (kind === "list") { const items = listOf(raw); if (items.length) out[name] = items; }
        else out[name] = Number(raw);
      }
      return out;
    };
    return { element, read };
  }

  async function segmentList() { return (await api("GET", "/segments")).segments; }

  async function renderSegments() {
    const all = await segmentList();
    const area = h("div", { id: "segment-form-area" });
    const add = guard(h("button", { type: "button", class: "primary" }, "New segment"), "segments");
    add.addEventListener("click", () => { area.replaceChildren(segmentForm(null)); area.querySelector("input").focus(); });
    const row = (s) => h("tr", { dataset: { segment: s.segment_id } },
      h("th", { scope: "row" }, h("a", { href: `#/segments/${seg(s.segment_id)}` }, s.name)),
      h("td", { class: "seg-kind" }, s.built_in ? "Built-in" : "Yours"),
      h("td", {}, s.built_in ? s.description : conditionsText(s.filter)),
      h("td", { class: "seg-count" }, s.count));
    render(
      h("h1", {}, "Segments"),
      h("p", { class: "intro" }, "Groups of customers to send campaigns to. Every store has the built-in segments; build your own from conditions. Counts are as of now."),
      h("div", { class: "actions" }, add), area,
      h("div", { class: "table-wrap" }, h("table", { "aria-label": "Segments" },
        h("thead", {}, h("tr", {}, ["Segment", "Kind", "Who", "Customers"].map((t) => h("th", { scope: "col", class: t === "Kind" ? "seg-kind" : null }, t)))),
        h("tbody", {}, all.map(row)))));
  }

  // Create (segment null) or edit a custom segment, with a live count of the conditions as they stand.
  function segmentForm(s) {
    const creating = !s;
    const name = guard(h("input", { type: "text", name: "name", value: creating ? "" : s.name, maxlength: 100, required: true }), "segments");
    const builder = filterBuilder(creating ? {} : s.filter, "segments");
    const live = h("output", { class: "seg-live-count" }, creating ? "" : s.count);
    const liveLine = h("p", { class: "seg-live", "aria-live": "polite" }, "Customers matching now: ", live);
    const status = saveStatus();
    const save = guard(h("button", { type: "submit", class: "primary" }, creating ? "Create segment" : "Save segment"), "segments");
    const form = h("form", { class: "card grid", novalidate: "", "aria-label": creating ? "New segment" : `Edit ${s.name}` },
      h("h2", { class: "span-all" }, creating ? "New segment" : "Edit segment"),
      labelled("Name", name), builder.element, h("div", { class: "span-all" }, liveLine),
      h("div", { class: "form-actions" }, save,
        creating ? h("button", { type: "button", onclick: () => form.remove() }, "Cancel") : null, status));
    let timer = null;
    let sequence = 0;
    async function count() {
      const mine = ++sequence;
      clearErrors(form);
      live.textContent = "…";
      try {
        const r = await api("POST", "/segments/count", { filter: builder.read() });
        if (mine === sequence) live.textContent = r.count;
      } catch (e) {
        if (mine !== sequence) return;
        live.textContent = "—";
        showError(e, form, status);
      }
    }
    form.addEventListener("input", (event) => {
      if (event.target === name) return;
      clearTimeout(timer);
      timer = setTimeout(count, 400);
    });
    form.addEventListener("change", (event) => { if (event.target.tagName === "SELECT") { clearTimeout(timer); timer = setTimeout(count, 400); } });
    if (creating) count();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearTimeout(timer);
      clearErrors(form);
      status.textContent = "";
      const body = { name: name.value.trim(), filter: builder.read() };
      try {
        const saved = creating ? await api("POST", "/segments", body) : await api("PATCH", `/segments/${seg(s.segment_id)}`, body);
        if (creating) { location.hash = `#/segments/${seg(saved.segment_id)}`; return; }
        await renderSegment(saved.segment_id);
        showSaved("Segment saved.");
      } catch (e) {
        showError(e, form, status);
      }
    });
    return form;
  }

  async function renderSegment(segmentId) {
    const s = await api("GET", `/segments/${seg(segmentId)}`);
    const body = h("tbody");
    const more = h("button", { type: "button", hidden: true }, "More members");
    const shownLine = h("p", { class: "muted seg-shown" });
    const load = pager(`/segments/${seg(segmentId)}/members?limit=25`, "members", body, more, (m) => h("tr", { dataset: { customer: m.customer_id } },
      h("th", { scope: "row" }, h("a", { href: `#/customers/${seg(m.customer_id)}` }, m.name || m.customer_id)),
      h("td", {}, m.email || ""), h("td", {}, m.phone || ""), h("td", {}, m.vip ? "VIP" : ""),
      h("td", {}, m.last_activity_at ? whenEl(m.last_activity_at) : "")),
    (n) => { shownLine.textContent = n ? `${plural(n, "member")} shown of ${s.count}.` : "Nobody is in this segment now."; });
    const deleteStatus = h("p", { role: "status", class: "field-error" });
    const actions = [h("a", { class: "button", href: "#/segments" }, "All segments")];
    if (!s.built_in) {
      const remove = guard(h("button", { type: "button", class: "danger" }, "Delete segment"), "segments");
      remove.addEventListener("click", async () => {
        deleteStatus.textContent = "";
        if (!window.confirm(`Delete the segment "${s.name}"?`)) return;
        try {
          await api("DELETE", `/segments/${seg(s.segment_id)}`);
          location.hash = "#/segments";
        } catch (e) {
          deleteStatus.textContent = e.status === 409
            ? `This segment cannot be deleted now: ${e.message}. Cancel or finish the campaign that targets it first.`
            : e.message;
        }
      });
      actions.push(remove);
    }
    render(
      h("h1", {}, s.name),
      h("p", { class: "intro" }, s.built_in ? `Built-in: ${s.description}` : `Your segment: ${conditionsText(s.filter)}`),
      h("p", {}, "Customers in it now: ", h("output", { class: "seg-count" }, s.count)),
      h("div", { class: "actions" }, actions), deleteStatus,
      s.built_in ? null : segmentForm(s),
      h("h2", {}, "Members"), shownLine,
      h("div", { class: "table-wrap" }, h("table", { "aria-label": "Members" },
        h("thead", {}, h("tr", {}, ["Customer", "Email", "Phone", "VIP", "Last active"].map((t) => h("th", { scope: "col" }, t)))), body)),
      h("div", { class: "actions" }, more));
    await load();
  }

  // --- campaigns ------------------------------------------------------------------------------------
  const CAMPAIGN_STATUS = { draft: "Draft", scheduled: "Scheduled", sending: "Sending", sent: "Sent", cancelled: "Cancelled" };
  let watching = null;   // the timer that refreshes a sending campaign's page
  const stopWatching = () => { clearInterval(watching); watching = null; };

  async function renderCampaigns() {
    const [list, segments, all] = await Promise.all([api("GET", "/campaigns"), segmentList(), templates()]);
    const names = Object.fromEntries(segments.map((s) => [s.segment_id, s.name]));
    const area = h("div", { id: "campaign-form-area" });
    const add = guard(h("button", { type: "button", class: "primary" }, "New campaign"), "campaigns");
    add.addEventListener("click", () => { area.replaceChildren(campaignForm(null, segments, all)); area.querySelector("input").focus(); });
    const row = (c) => h("tr", { dataset: { campaign: c.campaign_id } },
      h("th", { scope: "row" }, h("a", { href: `#/campaigns/${seg(c.campaign_id)}` }, c.name)),
      h("td", { class: `cmp-status status-${c.status}` }, CAMPAIGN_STATUS[c.status] || c.status),
      h("td", {}, c.segment_id ? names[c.segment_id] || c.segment_id : "—"),
      h("td", {}, c.scheduled_at ? whenEl(c.scheduled_at) : c.started_at ? whenEl(c.started_at) : ""),
      h("td", {}, c.members ? `${c.sent} of ${c.members}` : ""));
    render(
      h("h1", {}, "Campaigns"),
      h("p", { class: "intro" }, "A campaign sends one marketing message to a segment's members, now or at a time you choose. Times are the store's."),
      h("div", { class: "actions" }, add), area,
      list.campaigns.length ? h("div", { class: "table-wrap" }, h("table", { "aria-label": "Campaigns, newest first" },
        h("thead", {}, h("tr", {}, ["Campaign", "Status", "Segment", "When", "Sent"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, list.campaigns.map(row)))) : h("p", { class: "muted" }, "No campaigns yet."));
  }

  function segmentSelect(segments, selected, resource) {
    return guard(h("select", { name: "segment_id", required: true },
      h("option", { value: "", selected: !selected }, "Choose a segment"),
      segments.map((s) => h("option", { value: s.segment_id, selected: s.segment_id === selected },
        `${s.name} (${plural(s.count, "customer")})`))), resource);
  }

  // A campaign's preview: its template rendered by the API for a sample customer.
  function templatePreview(picker) {
    const out = h("div", { class: "preview cmp-preview", "aria-live": "polite", hidden: true });
    const button = h("button", { type: "button" }, "Preview template");
    button.addEventListener("click", async () => {
      const id = picker.value || "system:campaign";
      out.hidden = false;
      out.replaceChildren(h("p", { class: "loading" }, "Rendering…"));
      try {
        const r = await api("POST", `/templates/${seg(id)}/preview`, {});
        out.replaceChildren(h("h3", {}, "Subject"), h("p", { class: "pv-subject" }, r.subject),
          h("h3", {}, "Text"), h("pre", { class: "pv-text" }, r.body_text), h("h3", {}, "SMS"), h("pre", { class: "pv-sms" }, r.sms_body),
          h("p", { class: "muted" }, "For a sample customer."));
      } catch (e) {
        out.replaceChildren();
        showError(e, null, out.appendChild(h("p", { class: "field-error" })));
      }
    });
    return { button, out };
  }

  function campaignForm(c, segments, all) {
    const creating = !c;
    const current = c || { name: "", segment_id: null, channels: ["email"], template_id: null };
    const name = guard(h("input", { type: "text", name: "name", value: current.name, maxlength: 100, required: true }), "campaigns");
    const segment = segmentSelect(segments, current.segment_id, "campaigns");
    const picker = guard(h("select", { name: "template_id" }, templateOptions(all, "campaign", current.template_id, current.template_id || "system:campaign")), "campaigns");
    const preview = templatePreview(picker);
    const status = saveStatus();
    const form = h("form", { class: "card grid", novalidate: "", "aria-label": creating ? "New campaign" : `Edit ${current.name}` },
      h("h2", { class: "span-all" }, creating ? "New campaign" : "Edit campaign"),
      labelled("Name", name), labelled("Segment", segment, { hint: "Counts are as of now; the members are read when it starts." }),
      channelPicker(current.channels, "campaigns"),
      labelled("Template", picker, { hint: "Campaign templates: duplicate the system one under Templates to write your own." }),
      h("div", { class: "span-all" }, preview.button, preview.out),
      h("div", { class: "form-actions" }, guard(h("button", { type: "submit", class: "primary" }, creating ? "Create draft" : "Save"), "campaigns"),
        creating ? h("button", { type: "button", onclick: () => form.remove() }, "Cancel") : null, status));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      status.textContent = "";
      const body = { name: name.value.trim(), channels: chosenChannels(form), template_id: picker.value || null };
      if (segment.value) body.segment_id = segment.value;
      try {
        const saved = creating ? await api("POST", "/campaigns", body) : await api("PATCH", `/campaigns/${seg(c.campaign_id)}`, body);
        if (creating) { location.hash = `#/campaigns/${seg(saved.campaign_id)}`; return; }
        await renderCampaign(saved.campaign_id);
        showSaved("Campaign saved.");
      } catch (e) {
        showError(e, form, status);
      }
    });
    return form;
  }

  function progressList(c) {
    const skipped = Object.entries(c.skipped || {});
    const total = skipped.reduce((n, [, k]) => n + k, 0);
    const item = (label, cls, value) => h("div", { class: "pair" }, h("dt", {}, label), h("dd", { class: cls }, value));
    return h("section", { class: "stats cmp-progress", "aria-label": "Progress", "aria-live": "polite" }, h("dl", {},
      item("Members", "cmp-members", c.members), item("Queued", "cmp-queued", c.queued),
      item("Sent", "cmp-sent status-sent", c.sent),
      item("Skipped", "cmp-skipped status-skipped", [total, skipped.length ? ` (${skipped.map(([code, n]) => `${reason(code)} ${n}`).join(", ")})` : ""]),
      item("Failed", "cmp-failed status-failed", c.failed), item("Deferred", "cmp-deferred status-deferred", c.deferred)));
  }

  function timesList(c) {
    const rows = [["Scheduled for", c.scheduled_at], ["Started", c.started_at], ["Finished", c.finished_at], ["Cancelled", c.cancelled_at]]
      .filter(([, v]) => v);
    if (!rows.length) return null;
    return h("p", { class: "meta cmp-times" }, rows.map(([label, v], i) => [i ? " · " : "", `${label} `, whenEl(v)]), ` (${storeZone()})`);
  }

  // Send now or schedule: first the test-run says who would get it and what would be skipped, then a
  // confirm step names the number.
  function launchPanel(c) {
    const mode = nextId("mode");
    const now = h("input", { type: "radio", name: mode, value: "now", checked: c.status !== "scheduled" });
    const later = h("input", { type: "radio", name: mode, value: "later", checked: c.status === "scheduled" });
    const at = h("input", { type: "datetime-local", name: "at" });
    if (c.scheduled_at) {
      const w = wall(Date.parse(c.scheduled_at));
      at.value = `${isoDay(w)}T${String(w.hour).padStart(2, "0")}:${String(w.minute).padStart(2, "0")}`;
    }
    const atField = labelled(`Send at (the store's time: ${storeZone()})`, at, { field: "at" });
    // The browser writes the picker its own way: say the chosen moment back as the store's calendar does.
    const shown = h("p", { class: "hint cmp-at-shown", "aria-live": "polite" });
    const showAt = () => { shown.textContent = at.value ? `That is ${when(storeInstant(at.value))}, ${storeZone()} time.` : ""; };
    at.addEventListener("input", showAt);
    atField.append(shown);
    showAt();
    const sync = () => { atField.hidden = !later.checked; };
    now.addEventListener("change", sync);
    later.addEventListener("change", sync);
    // Checking is a read, open to every role (as the automations' test run is); only the confirm writes.
    const check = h("button", { type: "submit", class: "primary" }, "Check recipients");
    const status = h("p", { role: "status", class: "tr-status" });
    const result = h("div", { class: "result cmp-check", hidden: true });
    const form = h("form", { class: "card cmp-launch", "aria-label": "Send or schedule" },
      h("h2", {}, "Send or schedule"),
      h("fieldset", { class: "field" }, h("legend", {}, "When"),
        h("div", { class: "checks" }, h("label", { class: "check" }, now, "Send now"),
          h("label", { class: "check" }, later, "Schedule"))),
      atField, h("div", { class: "form-actions" }, check), status, result);
    sync();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      result.hidden = true;
      status.className = "tr-status";
      let instant = null;
      if (later.checked) {
        if (!at.value) { showError(new ApiError(400, { message: "Choose a date and time.", field: "at" }), form, status); return; }
        instant = storeInstant(at.value);
      }
      status.textContent = "Checking…";
      try {
        const r = await api("POST", `/campaigns/${seg(c.campaign_id)}/test-run`, instant ? { at: instant } : {});
        const skipped = Object.entries(r.skipped || {});
        const confirm = guard(h("button", { type: "button", class: "primary cmp-confirm" },
          instant ? `Schedule for ${plural(r.count, "customer")} at ${when(instant)}` : `Send now to ${plural(r.count, "customer")}`), "campaigns");
        const back = h("button", { type: "button", onclick: () => { result.hidden = true; check.focus(); } }, "Not yet");
        confirm.addEventListener("click", async () => {
          confirm.disabled = true;
          try {
            if (instant) await api("POST", `/campaigns/${seg(c.campaign_id)}/schedule`, { at: instant });
            else await api("POST", `/campaigns/${seg(c.campaign_id)}/send`);
            await renderCampaign(c.campaign_id);
            showSaved(instant ? `Scheduled for ${when(instant)}.` : "Sending has started.");
          } catch (e) {
            confirm.disabled = false;
            showError(e, form, status);
          }
        });
        // `append` leaves out what is absent (no notes); replaceChildren would write "null".
        result.replaceChildren();
        append(result, [
          h("dl", {},
            h("dt", {}, "As of"), h("dd", {}, whenEl(r.at), ` (${storeZone()})`),
            h("dt", {}, "Recipients"), h("dd", {}, h("output", { class: "cmp-recipients" }, r.count)),
            h("dt", {}, "Messages to send"), h("dd", {}, h("output", { class: "cmp-would-send" }, r.would_send)),
            r.deferred ? [h("dt", {}, "Deferred to after quiet hours"), h("dd", {}, h("output", { class: "cmp-would-defer" }, r.deferred))] : null,
            h("dt", {}, "Skipped"), h("dd", { class: "cmp-would-skip" }, skipped.length ? skipped.map(([code, n]) => `${outcome(code)}: ${n}`).join(", ") : "none")),
          notesList(r.notes),
          h("p", {}, `Confirm to ${instant ? `schedule it for ${when(instant)}` : "send it now"}: ${plural(r.count, "customer")}, ${plural(r.would_send, "message")}.`),
          h("div", { class: "form-actions" }, confirm, back)]);
        result.hidden = false;
        status.textContent = `${plural(r.count, "customer")} would receive it; nothing is sent until you confirm.`;
        if (!confirm.disabled) confirm.focus();
      } catch (e) {
        status.textContent = "";
        showError(e, form, status);
      }
    });
    return form;
  }

  async function renderCampaign(campaignId) {
    stopWatching();
    const [c, segments, all] = await Promise.all([api("GET", `/campaigns/${seg(campaignId)}`), segmentList(), templates()]);
    const target = segments.find((s) => s.segment_id === c.segment_id);
    const template = all.find((t) => t.template_id === c.effective_template_id);
    const progress = h("div", {}, progressList(c));
    const badge = h("span", { class: `badge cmp-badge status-${c.status}` }, CAMPAIGN_STATUS[c.status] || c.status);
    const status = h("p", { role: "status", class: "field-error" });
    const actions = [h("a", { class: "button", href: "#/campaigns" }, "All campaigns")];
    if (["draft", "scheduled", "sending"].includes(c.status)) {
      const cancel = guard(h("button", { type: "button", class: "danger" }, "Cancel campaign"), "campaigns");
      cancel.addEventListener("click", async () => {
        if (!window.confirm(`Cancel "${c.name}"? Nothing more of it is sent.`)) return;
        try { await api("POST", `/campaigns/${seg(c.campaign_id)}/cancel`); await renderCampaign(c.campaign_id); showSaved("Cancelled."); } catch (e) { showError(e, null, status); }
      });
      actions.push(cancel);
    }
    if (c.status === "draft") {
      const remove = guard(h("button", { type: "button", class: "danger" }, "Delete draft"), "campaigns");
      remove.addEventListener("click", async () => {
        if (!window.confirm(`Delete the draft "${c.name}"?`)) return;
        try { await api("DELETE", `/campaigns/${seg(c.campaign_id)}`); location.hash = "#/campaigns"; } catch (e) { showError(e, null, status); }
      });
      actions.push(remove);
    }
    const editable = c.status === "draft" || c.status === "scheduled";
    render(
      h("h1", {}, c.name),
      h("div", { class: "card-head" }, badge,
        h("span", { class: "meta" }, `Segment: ${target ? target.name : c.segment_id || "none yet"} · Channels: ${c.channels.map((x) => CHANNELS[x] || x).join(", ")} · Template: ${template ? template.name : c.effective_template_id}`)),
      timesList(c),
      h("h2", {}, "Progress"), progress,
      c.sent ? [h("h2", {}, "Delivery, opens and revenue"),
        h("section", { class: "stats cmp-engagement", "aria-label": `${c.name}: since it started` },
          h("span", { class: "muted" }, "Since it started; the chart shows the last 30 days"),
          engagementList(c, c.name), engagementChart(c.daily || []))] : null,
      h("div", { class: "actions" }, actions), status,
      editable ? launchPanel(c) : null,
      editable ? campaignForm(c, segments, all) : null);
    if (c.status === "sending") {
      const hash = location.hash;
      watching = setInterval(async () => {
        if (location.hash !== hash) { stopWatching(); return; }
        try {
          const fresh = await api("GET", `/campaigns/${seg(campaignId)}`);
          progress.replaceChildren(progressList(fresh));
          badge.textContent = CAMPAIGN_STATUS[fresh.status] || fresh.status;
          badge.className = `badge cmp-badge status-${fresh.status}`;
          if (fresh.status !== "sending") stopWatching();
        } catch (e) { stopWatching(); }
      }, 3000);
    }
  }

  // --- reminders ------------------------------------------------------------------------------------
  // The coming days' birthdays and anniversaries (GET /reminders), in the store's calendar: who, how to
  // reach them, what they last received, and when (or whether) an automation will greet them.
  const OCCASIONS = { birthday: "Birthday", anniversary: "Anniversary" };
  const REMINDER_DAYS = [7, 14, 30, 60, 90];

  function occasionText(r, onDay) {
    // The year, when the record has one, says which birthday or anniversary it is.
    const year = /^\d{4}-/.test(r.date) ? Number(r.date.slice(0, 4)) : null;
    const count = year ? Number(onDay.slice(0, 4)) - year : 0;
    if (!count || count < 1) return OCCASIONS[r.occasion];
    return r.occasion === "birthday" ? `Birthday: turns ${count}` : `Anniversary: ${plural(count, "year")}`;
  }

  function greetingText(r) {
    const g = r.greeting;
    if (!g && r.greeted_by) {
      return h("p", { class: "rem-greeting rem-done" }, `The ${OCCASIONS[r.greeted_by].toLowerCase()} automation has already dealt with this date: see the customer's history.`);
    }
    if (!g) return h("p", { class: "rem-greeting rem-none" }, "No automation will greet them.");
    const skips = Object.entries(g.channels).filter(([, outcome]) => outcome !== "would_send")
      .map(([channel, outcome]) => `${CHANNELS[channel] || channel}: ${reason(outcome)}`);
    return h("p", { class: "rem-greeting rem-will" },
      `${OCCASIONS[g.automation]} automation will send on `, dayEl(g.send_on), ` at ${clockTime(g.send_at)}`,
      skips.length ? ` (but skips ${skips.join(", ")})` : "", ".");
  }

  function lastMessageText(m) {
    if (!m) return h("p", { class: "rem-last muted" }, "No message received yet.");
    return h("p", { class: "rem-last" }, "Last message: ", whenEl(m.created_at), ` · ${CHANNELS[m.channel] || m.channel}`,
      m.subject ? ` · ${m.subject}` : "", m.automation_type ? ` (${typeName(m.automation_type)})` : "");
  }

  function reminderItem(r, onDay) {
    return h("li", { class: "reminder", dataset: { customer: r.customer_id, occasion: r.occasion } },
      h("p", { class: "rem-who" }, h("a", { href: `#/customers/${seg(r.customer_id)}` }, r.name),
        h("span", { class: "chip rem-occasion" }, occasionText(r, onDay))),
      h("p", { class: "rem-contact" },
        r.email ? h("a", { href: `mailto:${r.email}` }, r.email) : h("span", { class: "muted" }, "No email"),
        r.phone ? h("a", { href: `tel:${r.phone}` }, r.phone) : h("span", { class: "muted" }, "No phone")),
      lastMessageText(r.last_message), greetingText(r));
  }

  async function renderReminders() {
    const picker = h("select", { name: "days" }, REMINDER_DAYS.map((n) => h("option", { value: n, selected: n === 30 }, `${n} days`)));
    const list = h("div", { class: "rem-days", "aria-live": "polite" });
    const status = h("p", { role: "status", class: "muted" });
    const load = async () => {
      const answer = await api("GET", `/reminders?days=${picker.value}`);
      const shown = answer.days.filter((d) => d.customers.length);
      const label = (iso) => {
        const ahead = daysFrom(answer.today, iso);
        return ahead === 0 ? "Today, " : ahead === 1 ? "Tomorrow, " : "";
      };
      status.textContent = shown.length
        ? `${plural(shown.reduce((n, d) => n + d.customers.length, 0), "celebration")} in the next ${plural(answer.days.length, "day")}.`
        : `No birthdays or anniversaries in the next ${plural(answer.days.length, "day")}.`;
      list.replaceChildren(...shown.map((d) => h("section", { class: "card rem-day", dataset: { date: d.date } },
        h("h2", {}, label(d.date), dayEl(d.date)),
        h("ul", { class: "rem-list" }, d.customers.map((r) => reminderItem(r, d.date))))));
    };
    picker.addEventListener("change", () => load().catch((e) => showError(e, null, status)));
    render(h("h1", {}, "Reminders"),
      h("p", { class: "intro" }, "Birthdays and anniversaries of the coming days, in the store's time zone: who to call, what they last received, and whether an automation will greet them."),
      h("div", { class: "row rem-pick" }, labelled("Days ahead", picker)), status, list);
    await Promise.all([load(), templates()]);
  }

  // --- communications history -----------------------------------------------------------------------
  // Every record on a customer's history (docs/behaviour.md section 8) with its full message. A record keeps
  // the text of what was sent (an email's HTML part is not stored), shown as text, never as markup. On a
  // phone each record is a card, so status and reason are never scrolled out of view.
  const SOURCES = { automation: "Automation", action_automation: "Action-taken", campaign: "Campaign",
    one_to_one: "1:1 email", action: "Action" };
  // Delivery facts a record may carry (as feedback from the provider is recorded), in the order they happen.
  const DELIVERY_FACTS = [["delivered_at", "Delivered"], ["machine_opened_at", "Opened by a privacy proxy"], ["opened_at", "Opened"],
    ["clicked_at", "Clicked"], ["bounced_at", "Bounced"], ["complained_at", "Marked as spam"], ["rejected_at", "Rejected by SES"]];

  // "Bought $1,240 two days after this email": the sales attributed to a message (docs/behaviour.md section 14).
  const NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
  function revenueLine(m) {
    if (!m.attributed_sales) return null;
    const dayOf = (iso) => formatter({ year: "numeric", month: "2-digit", day: "2-digit" }, storeZone(), "en-CA").format(new Date(iso));
    const days = Math.max(0, Math.round((Date.parse(`${dayOf(m.attributed_sale_at)}T00:00:00Z`) - Date.parse(`${dayOf(m.created_at)}T00:00:00Z`)) / 86400000));
    const what = m.channel === "sms" ? "SMS" : "email";
    const gap = days === 0 ? `the same day as this ${what}` : days === 1 ? `the day after this ${what}` : `${NUMBERS[days] || days} days after this ${what}`;
    const total = m.attributed_sales > 1 ? ` (${plural(m.attributed_sales, "sale")}, ${money(m.attributed_revenue)} in all)` : "";
    return h("p", { class: "cm-revenue" }, `Bought ${money(m.attributed_sale_total ?? m.attributed_revenue)} ${gap}`, total, " · ", whenEl(m.attributed_sale_at));
  }

  function sourceText(m) {
    const source = SOURCES[m.source] || (m.source || "").replace(/_/g, " ");
    const what = m.automation_type && m.automation_type !== "campaign" ? typeName(m.automation_type) : "";
    return what ? `${source}: ${what}` : source;
  }

  function communicationRow(m) {
    const facts = DELIVERY_FACTS.filter(([field]) => m[field]).map(([field, label]) => h("span", {}, `${label} `, whenEl(m[field])));
    const cell = (label, cls, ...content) => h("td", { class: cls, dataset: { label } }, ...content);
    return h("tr", { class: "communication" },
      cell("When", "cm-when", whenEl(m.created_at)),
      cell("Channel", "cm-channel", CHANNELS[m.channel] || m.channel),
      cell("Source", "cm-source", sourceText(m)),
      cell("Status", `cm-status status-${m.status}`, m.status),
      cell("Reason", "cm-reason", m.reason ? reason(m.reason) : "—"),
      cell("Message", "cm-message",
        m.subject ? h("p", { class: "cm-subject" }, m.subject) : null,
        m.body ? h("details", {}, h("summary", {}, m.subject ? "Full message" : m.body.slice(0, 60)),
          h("pre", { class: "cm-body" }, m.body)) : null,
        m.to ? h("p", { class: "muted cm-to" }, `To ${m.to}`) : null,
        m.deferred_until ? h("p", { class: "muted" }, "Will be tried again ", whenEl(m.deferred_until)) : null,
        facts.length ? h("p", { class: "cm-facts" }, facts) : null,
        m.clicked_links && m.clicked_links.length ? h("p", { class: "muted cm-links" }, `Clicked: ${m.clicked_links.join(", ")}`) : null,
        revenueLine(m)));
  }

  /** The history part of a customer's page: its element, and `load` to fill it (older pages on demand). */
  function communicationsHistory(customerId) {
    const body = h("tbody");
    const more = h("button", { type: "button", hidden: true }, "Older messages");
    const count = h("p", { class: "muted" });
    const table = h("div", { class: "table-wrap cm-wrap", hidden: true }, h("table", { class: "cm-table", "aria-label": "Communications, newest first" },
      h("thead", {}, h("tr", {}, ["When", "Channel", "Source", "Status", "Reason", "Message"].map((t) => h("th", { scope: "col" }, t)))),
      body));
    const load = pager(`/customers/${seg(customerId)}/communications?limit=50`, "communications", body, more, communicationRow,
      (shown) => {
        count.textContent = shown ? `${plural(shown, "message")} shown, newest first.` : "No messages yet.";
        table.hidden = !shown;
      });
    const element = h("section", { class: "cm-history", "aria-labelledby": "cm-title" },
      h("h2", { id: "cm-title" }, "Communications"), count, table, h("div", { class: "actions" }, more));
    return { element, load };
  }

  // --- customer consent and notes (docs/behaviour.md section 7: "Consent", "Customer notes") ---------
  // Two sections of the customer page: consent per channel with who changed it, when and how, with a form
  // to record what the customer said in the store; and the notes timeline. `customerPageSections` is the
  // one call renderCustomer makes.
  const CONSENT_SOURCES = [["in_store_form", "Signed a form in store"], ["in_store_verbal", "Said so in store"],
    ["phone_call", "On the phone"], ["email_reply", "By email"]];
  const CONSENT_SOURCE_TEXT = { unsubscribe_link: "through an unsubscribe link", api: "how not stated", import: "by import",
    ...Object.fromEntries(CONSENT_SOURCES.map(([code, text]) => [code, text.toLowerCase()])) };
  const consentSourceText = (code) => CONSENT_SOURCE_TEXT[code] || String(code || "").replace(/_/g, " ");
  const whoText = (subject) => {
    if (subject === "unsubscribe_link") return "the customer";
    return state.me && subject === state.me.subject ? "you" : subject;
  };

  async function customerPageSections(c) {
    const sections = [consentSection(c), await notesSection(c.customer_id)];
    if (AUDIT_READERS.includes(state.me.role)) sections.push(await auditSection(c.customer_id));
    return sections;
  }

  // --- the customer's audit trail (docs/behaviour.md section 7, "Audit trail") ---------------------------
  // Every change of consent, tags and VIP: who, when (the store's time), how, from what to what. Owners and
  // managers read it (the API refuses the other roles, and the page does not offer it to them).
  const AUDIT_READERS = ["owner", "manager"];
  const AUDIT_FIELDS = { "consent.email": "Email consent", "consent.sms": "SMS consent", tags: "Tags", is_vip: "VIP" };
  const auditValue = (value) => {
    if (value === true) return "yes";
    if (value === false) return "no";
    if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
    return value === null || value === undefined ? "—" : String(value);
  };
  const auditSourceText = (source) => (String(source || "").startsWith("import:") ? "by import"
    : source === "api" ? "through the API" : consentSourceText(source));

  async function auditSection(customerId) {
    const path = `/customers/${seg(customerId)}/audit`;
    const titleId = nextId("audit");
    const list = h("ol", { class: "audit", "aria-label": "Changes, newest first" });
    const empty = h("p", { class: "muted audit-empty" }, "No changes of consent, tags or VIP yet.");
    const more = h("button", { type: "button", hidden: true }, "Older changes");
    const status = h("p", { role: "status", class: "field-error" });
    let cursor = null;
    const entry = (e) => h("li", { class: "audit-entry" },
      h("p", { class: "meta" }, whenEl(e.at), " · ", h("strong", { class: "audit-who" }, whoText(e.by)),
        e.kind === "erased" ? " erased the customer" : ` (${auditSourceText(e.source)})`),
      e.kind === "erased" ? null : h("ul", { class: "audit-changes" }, (e.changes || []).map((c) =>
        h("li", {}, `${AUDIT_FIELDS[c.field] || c.field}: ${auditValue(c.from)} → ${auditValue(c.to)}`))));
    const load = async () => {
      const page = await api("GET", `${path}?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      append(list, page.entries.map(entry));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty.hidden = list.children.length > 0;
    };
    more.addEventListener("click", () => load().catch((e) => showError(e, null, status)));
    try { await load(); } catch (e) { showError(e, null, status); }
    return h("section", { class: "card audit-section", "aria-labelledby": titleId },
      h("h2", { id: titleId }, "Changes of consent, tags and VIP"), list, empty, status, h("div", { class: "actions" }, more));
  }

  function consentSection(c) {
    const titleId = nextId("consent");
    const section = h("section", { class: "card consent", "aria-labelledby": titleId });
    const show = (customer, message) => {
      const consent = customer.consent || {};
      const changes = customer.consent_channels || {};
      const status = h("p", { role: "status", class: "saved" }, message || "");
      const howId = nextId("how");
      const how = h("select", { id: howId, name: "consent_source" }, h("option", { value: "" }, "Not stated"),
        CONSENT_SOURCES.map(([code, text]) => h("option", { value: code }, text)));
      const boxes = {};
      const rows = Object.entries(CHANNELS).map(([channel, label]) => {
        const change = changes[channel];
        const withdrawnByLink = !consent[channel] && change && change.consent_source === "unsubscribe_link";
        boxes[channel] = h("input", { type: "checkbox", name: `consent-${channel}`, checked: Boolean(consent[channel]) });
        return h("li", { class: "consent-channel", dataset: { channel } },
          h("span", { class: "consent-name" }, label), " ",
          h("strong", { class: "consent-value" }, consent[channel] ? "Given" : "Not given"),
          h("span", { class: "meta consent-change" }, change
            ? [" · changed ", whenEl(change.consent_updated_at), ` by ${whoText(change.consent_updated_by)}, ${consentSourceText(change.consent_source)}`]
            : " · never recorded"),
          withdrawnByLink ? h("p", { class: "hint consent-unsubscribed" },
            `The customer unsubscribed from ${label === "SMS" ? "SMS" : "email"} through a link: to give it again, say how they did.`) : null);
      });
      const form = h("form", { class: "consent-form" },
        h("fieldset", { class: "field" }, h("legend", {}, "Consent given in the store"),
          h("div", { class: "checks" }, Object.entries(CHANNELS).map(([channel, label]) =>
            h("label", { class: "check" }, boxes[channel], `${label}: consents`)))),
        labelled("How did the customer say so?", how, { field: "consent_source" }),
        h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Record consent"), status));
      if (!mayChange("customers")) {
        form.querySelectorAll("input, select, button").forEach((control) => { control.disabled = true; });
        form.append(h("p", { class: "muted" }, `You are signed in as ${state.me.role}: you can read consent but not record it.`));
      }
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearErrors(form);
        status.textContent = "";
        status.className = "saved";
        const changed = {};
        for (const channel of Object.keys(CHANNELS)) {
          if (boxes[channel].checked !== Boolean(consent[channel])) changed[channel] = boxes[channel].checked;
        }
        if (!Object.keys(changed).length) { status.textContent = "Nothing changed."; return; }
        const body = { consent: changed };
        if (how.value) body.consent_source = how.value;
        try {
          show(await api("PATCH", `/customers/${seg(customer.customer_id)}`, body), "Consent recorded.");
        } catch (e) {
          showError(e, form, status);
        }
      });
      section.replaceChildren(h("h2", { id: titleId }, "Consent"), h("ul", { class: "consent-list" }, rows), form);
    };
    show(c);
    return section;
  }

  const mayEditNote = (note) => mayChange("notes") && (note.author === state.me.subject || ["owner", "manager"].includes(state.me.role));

  async function notesSection(customerId) {
    const path = `/customers/${seg(customerId)}/notes`;
    const titleId = nextId("notes");
    const list = h("ol", { class: "notes", "aria-label": "Notes, newest first" });
    const empty = h("p", { class: "muted notes-empty" }, "No notes yet.");
    const more = h("button", { type: "button", hidden: true }, "Older notes");
    const status = h("p", { role: "status", class: "saved" });
    let cursor = null;
    const load = async (fromStart) => {
      if (fromStart) { list.replaceChildren(); cursor = null; }
      const page = await api("GET", `${path}?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      append(list, page.notes.map(noteItem));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty.hidden = list.children.length > 0;
    };
    more.addEventListener("click", () => load(false).catch((e) => showError(e, null, status)));

    function noteItem(note) {
      const item = h("li", { class: "note", dataset: { noteId: note.note_id } });
      const head = h("p", { class: "meta note-head" },
        h("strong", { class: "note-author" }, whoText(note.author)), note.author_role ? ` (${note.author_role})` : "", " · ",
        whenEl(note.created_at),
        note.edited_at ? [" · edited ", h("span", { class: "note-edited" }, whenEl(note.edited_at)),
          note.edited_by && note.edited_by !== note.author ? ` by ${whoText(note.edited_by)}` : ""] : null);
      const text = h("p", { class: "note-body" }, note.body);
      const line = h("p", { role: "status", class: "field-error" });
      const actions = h("div", { class: "actions" });
      if (mayEditNote(note)) {
        actions.append(
          h("button", { type: "button", onclick: () => edit() }, "Edit"),
          h("button", { type: "button", class: "danger", onclick: () => askDelete() }, "Delete"));
      }
      item.append(head, text, actions, line);

      function edit() {
        const area = h("textarea", { name: "body", maxlength: 5000, required: true });
        area.value = note.body;
        const form = h("form", { class: "note-edit" }, labelled("Edit note", area, { field: "body" }),
          h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Save note"),
            h("button", { type: "button", onclick: () => item.replaceWith(noteItem(note)) }, "Cancel")));
        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          clearErrors(form);
          try {
            item.replaceWith(noteItem(await api("PATCH", `${path}/${seg(note.note_id)}`, { body: area.value, version: note.version })));
          } catch (e) {
            if (e instanceof ApiError && (e.status === 409 || e.status === 404)) {
              await load(true);
              status.className = "field-error";
              status.textContent = "That note was changed or deleted by someone else meanwhile: the notes are shown as they are now.";
            } else {
              showError(e, form, line);
            }
          }
        });
        text.replaceWith(form);
        actions.hidden = true;
        area.focus();
      }

      function askDelete() {
        actions.replaceChildren(h("span", {}, "Delete this note?"),
          h("button", { type: "button", class: "danger", onclick: async () => {
            try {
              await api("DELETE", `${path}/${seg(note.note_id)}`);
              item.remove();
              empty.hidden = list.children.length > 0;
            } catch (e) {
              showError(e, null, line);
            }
          } }, "Yes, delete"),
          h("button", { type: "button", onclick: () => item.replaceWith(noteItem(note)) }, "Keep"));
      }
      return item;
    }

    const area = h("textarea", { name: "body", maxlength: 5000, required: true });
    const form = h("form", { class: "note-new" }, labelled("New note", area, { field: "body", hint: "Up to 5,000 characters; line breaks are kept." }),
      h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Add note"), status));
    if (!mayChange("notes")) {
      area.disabled = true;
      form.querySelector("button").disabled = true;
      form.append(h("p", { class: "muted" }, `You are signed in as ${state.me.role}: you can read notes but not write them.`));
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      status.textContent = "";
      status.className = "saved";
      try {
        await api("POST", path, { body: area.value });
        area.value = "";
        await load(true);
        status.textContent = "Note added.";
      } catch (e) {
        showError(e, form, status);
      }
    });
    await load(true);
    return h("section", { class: "card notes-section", "aria-labelledby": titleId },
      h("h2", { id: titleId }, "Notes"), form, list, empty, h("div", { class: "actions" }, more));
  }

  // --- import ---------------------------------------------------------------------------------------
  // A customer file: uploaded straight to the address the API signs, mapped with a preview of its first
  // rows, run as a dry run then a commit, followed with a progress bar; the rejected rows download as CSV.
  const IMPORT_FIELDS = ["ignore", "customer_id", "first_name", "last_name", "email", "phone", "birthday", "anniversary",
    "tags", "is_vip", "interests", "points_balance", "consent.email", "consent.sms"];

  async function renderImport() {
    const file = guard(h("input", { type: "file", accept: ".csv,.txt,text/csv,text/plain", name: "file" }), "imports");
    const upload = guard(h("button", { type: "submit" }, "Upload and preview"), "imports");
    const form = h("form", {}, labelled("CSV file (UTF-8, UTF-16 or Windows-1252; comma, semicolon or tab)", file), upload);
    const work = h("div", { id: "import-work" });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearAlert();
      if (!file.files.length) { showAlert("Choose a file first."); return; }
      upload.disabled = true;
      try {
        const created = await api("POST", "/imports");
        const put = await fetch(created.upload_url, { method: "PUT", body: file.files[0] });
        if (!put.ok) throw new Error(`The upload was refused (${put.status}).`);
        importMapping(work, created.import_id, await api("GET", `/imports/${created.import_id}/preview`));
      } catch (e) { showAlert(e.message); } finally { upload.disabled = false; }
    });
    render(h("h1", {}, "Import customers"),
      h("p", {}, "A row is matched by customer id, else by email (any case), else it is a new customer. Blank cells never overwrite; running the same file again changes nothing; imports fire no action-taken automation."),
      form, work);
  }

  function importMapping(work, importId, preview) {
    const selects = preview.header.map((column) => h("select", { name: `map-${column}`, "aria-label": `Field for ${column}` },
      IMPORT_FIELDS.map((f) => h("option", { value: f, selected: preview.suggested_mapping[column] === f }, f))));
    const order = h("select", { name: "date_order" }, h("option", { value: "dmy" }, "DD/MM/YYYY"), h("option", { value: "mdy" }, "MM/DD/YYYY"));
    const table = h("table", { class: "import-preview" },
      h("thead", {}, h("tr", {}, preview.header.map((c) => h("th", { scope: "col" }, c))),
        h("tr", {}, selects.map((s) => h("td", {}, s)))),
      h("tbody", {}, preview.rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))));
    const report = h("div", { id: "import-report", "aria-live": "polite" });
    const start = (mode) => async () => {
      clearAlert();
      const mapping = Object.fromEntries(preview.header.map((c, i) => [c, selects[i].value]));
      try {
        await api("POST", `/imports/${importId}/start`, { mode, mapping, date_order: order.value });
        importFollow(report, importId);
      } catch (e) { showAlert(e.message); }
    };
    work.replaceChildren(h("h2", {}, "Columns"),
      h("p", {}, `Read as ${preview.encoding}, separated by ${preview.delimiter === "\t" ? "tabs" : `"${preview.delimiter}"`}. The first rows:`),
      table, labelled("Dates written with slashes are", order),
      guard(h("button", { type: "button", onclick: start("dry_run") }, "Dry run"), "imports"), " ",
      guard(h("button", { type: "button", onclick: start("commit") }, "Import"), "imports"), report);
  }

  function importFollow(report, importId) {
    const hash = location.hash;
    const bar = h("progress", { max: 1, value: 0 });
    const line = h("p", {});
    report.replaceChildren(bar, line);
    const timer = setInterval(async () => {
      if (location.hash !== hash) { clearInterval(timer); return; }
      try {
        const job = await api("GET", `/imports/${importId}`);
        bar.max = job.rows_total || 1;
        bar.value = job.rows_total ? job.rows_done : 0;
        const counts = `created ${job.created}, updated ${job.updated}, unchanged ${job.unchanged}, rejected ${job.rejected}`;
        line.textContent = `${job.mode === "dry_run" ? "Dry run" : "Import"} ${job.status}: ${job.rows_done} of ${job.rows_total ?? "?"} rows; ${job.mode === "dry_run" ? "would be " : ""}${counts}${job.error ? ` (${job.error})` : ""}`;
        if (job.status === "done" || job.status === "failed") {
          clearInterval(timer);
          if (job.rejected) report.append(h("button", { type: "button", onclick: () => importRejects(importId) }, "Download rejected rows"));
        }
      } catch (e) { clearInterval(timer); showAlert(e.message); }
    }, 1000);
  }

  async function importRejects(importId) {
    const response = await fetch(new URL(`imports/${importId}/rejects`, API),
      { headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` } });
    if (!response.ok) { showAlert(`The rejected rows could not be read (${response.status}).`); return; }
    const link = h("a", { href: URL.createObjectURL(await response.blob()), download: `rejects-${importId}.csv` });
    link.click();
    URL.revokeObjectURL(link.href);
  }

  // --- start ----------------------------------------------------------------------------------------
  // The local stack's address may carry a token in the fragment (never sent to a server): `make run` prints
  // one that signs in as the demo store's owner. It is taken out of the address and its history at once,
  // read only in the local mode (a Cognito page signs in with its own form), and used only when the tab has
  // no session, or when the user agrees to leave the store the tab is signed in to for the token's store.
  function tokenFromAddress() {
    const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (!fragment.has("token")) return null;
    history.replaceState(null, "", `${location.pathname}${location.search}#/automations`);
    return fragment.get("token").trim() || null;
  }

  // The store a token signs in to, as the API reads it (null: the API refuses the token).
  async function storeOf(token) {
    try {
      const response = await fetch(new URL("me", API), { headers: { Authorization: `Bearer ${token}` } });
      return response.ok ? (await response.json()).tenant_id : null;
    } catch (e) {
      return null;
    }
  }

  function askSwitch(current, offered) {
    return new Promise((resolve) => {
      const titleId = nextId("switch");
      const stay = h("button", { type: "button", class: "primary", value: "stay" }, `Stay in ${current}`);
      const go = h("button", { type: "button", value: "switch" }, `Switch to ${offered}`);
      const dialog = h("dialog", { class: "card switch-store", "aria-labelledby": titleId },
        h("h2", { id: titleId }, "Switch store?"),
        h("p", {}, "This tab is signed in to the store ", h("strong", { class: "switch-current" }, current),
          ". The address you opened signs in to the store ", h("strong", { class: "switch-offered" }, offered), "."),
        h("div", { class: "form-actions" }, stay, go));
      const close = (choice) => { dialog.close(); dialog.remove(); resolve(choice); };
      stay.addEventListener("click", () => close(false));
      go.addEventListener("click", () => close(true));
      dialog.addEventListener("cancel", (event) => { event.preventDefault(); close(false); });
      document.body.append(dialog);
      dialog.showModal();
      stay.focus();
    });
  }

  // Returns whether the tab's session changed.
  async function offerToken(offered) {
    if (!offered || state.config.auth.mode !== "local") return false;
    const current = sessionStorage.getItem(TOKEN_KEY);
    if (current === offered) return false;
    const currentStore = current ? await storeOf(current) : null;
    if (currentStore) {
      const offeredStore = await storeOf(offered);
      if (!offeredStore) {
        showAlert(`The address you opened holds a token that is not valid; you are still signed in to ${currentStore}.`);
        return false;
      }
      if (!(await askSwitch(currentStore, offeredStore))) return false;
    }
    sessionStorage.setItem(TOKEN_KEY, offered);
    sessionStorage.removeItem(REFRESH_KEY);
    return true;
  }

  async function boot() {
    const offered = tokenFromAddress();
    try {
      const response = await fetch(new URL("admin/config.json", API));
      if (!response.ok) throw new Error(`the page's configuration answered ${response.status}`);
      state.config = await response.json();
    } catch (e) {
      render(h("h1", {}, "The admin could not start"), h("p", {}, e.message));
      return;
    }
    await offerToken(offered);
    window.addEventListener("hashchange", async () => {
      const again = tokenFromAddress();
      if (again === null) { route(); return; }
      // The page under the question is the one the address now names; a refused token's line stays on it.
      await route();
      if (await offerToken(again)) { state.me = null; await start(); }
    });
    if (sessionStorage.getItem(TOKEN_KEY)) await start();
    else renderSignIn();
  }

  boot();
})();
