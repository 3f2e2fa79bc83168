// xxgk review UI: no build step, no framework. Talks to the API under /v1 with the bearer token kept in
// localStorage (local mode needs none). Views: #/ (upload, reports, review queue), #/r/<id>[/<cell id>] (a report).
"use strict";

const STATUS = { queued: "排队中", running: "处理中", done: "完成", failed: "失败" };
const CHECK = { pass: "通过", fail: "不通过", not_assessable: "无法判断" };
const RULES = {
  t3_balance: "第一项加第二项之和等于第三项加第四项之和",
  t3_row_total: "总计等于各类申请人之和",
  t3_results_total: "（七）总计等于（一）至（六）之和",
  t3_derive_denied: "（三）不予公开等于其各小项之和",
  t3_derive_unable: "（四）无法提供等于其各小项之和",
  t3_derive_not_processed: "（五）不予处理等于其各小项之和",
  t3_derive_other_processing: "（六）其他处理等于其各小项之和",
  t3_derive_legal_or_other_org: "法人或其他组织等于其五类之和",
  t3_nonnegative: "数量不为负",
  t4_group_total: "总计等于维持、纠正、其他、尚未审结之和",
  t4_nonnegative: "数量不为负",
  t2_counts_nonnegative: "数量不为负",
  t2_2021_in_force_carry: "现行有效件数与上年衔接",
  text_vs_table: "正文所述数字与表格一致",
};
const COVERAGE = { complete: "完整", partial: "部分未读", failed: "读取失败" };
const TABLE = { t2: "表二（主动公开）", t3: "表三（申请处理）", t4: "表四（复议诉讼）" };
const CELL_STATUS = { read: "已读取", blank: "空白", not_applicable: "不适用", absent: "未印出", inferred: "推算",
  repaired: "已修正（规则）", unparseable: "无法解析", corrected: "人工更正" };

const $ = (sel, el = document) => el.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
// a coverage reason of the result ("t4: table not located", "t3: 14 of 175 cells not read") in Chinese
function coverageReason(s) {
  let m = s.match(/^(t\d): table not located$/);
  if (m) return `${TABLE[m[1]] || m[1]}：未找到表格`;
  m = s.match(/^(t\d): (\d+) of (\d+) cells not read$/);
  return m ? `${TABLE[m[1]] || m[1]}：${m[3]} 个单元格中 ${m[2]} 个未读取` : s;
}
// the coverage status of a report as a badge, the reasons in its tooltip ("" for results stored before coverage)
function coverageBadge(r) {
  if (!r.coverage) return "";
  const why = r.coverage_reasons.map(coverageReason).join("\n") || "三张表均已读完";
  return `<span class="badge cov-${r.coverage}" data-testid="coverage" data-coverage="${r.coverage}" title="${esc(why)}">${COVERAGE[r.coverage]}</span>`;
}
// a cell's printed column (商业企业; 其他 under 法人或其他组织 says so)
const columnText = (x) => (x.column_group && x.column_label === "其他" ? `${x.column_group}·其他` : x.column_label || "");
const printedLabel = (x) => `${x.row_label} × ${columnText(x)}`;
const cellView = (id) => (state.view && state.view.cells[id]) || null;
// reasons in the reviewer's language; the stable code in each one's tooltip
const reasonsHtml = (items) => (items || []).map((x) => `<span class="reason" data-testid="reason" data-code="${esc(x.reason_code || "")}"
  title="${esc(x.reason_code || "")}">${esc(x.text)}</span>`).join("；") || "—";
const fmtNum = (v) => (v === null || v === undefined ? "" : Number.isInteger(v) ? String(v) : String(+v.toFixed(4)));

// ------------------------------------------------------------------ API
function token() { return sessionStorage.getItem("xxgk-token") || ""; }
async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (token()) headers.Authorization = "Bearer " + token();
  if (opts.json !== undefined) { headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(opts.json); }
  const r = await fetch(path, Object.assign({}, opts, { headers }));
  if (r.status === 401) { showLogin("请登录：填写访问令牌"); throw new ApiError(r.status, "未授权"); }
  if (!r.ok) {
    let detail = r.statusText;
    try { const b = await r.json(); detail = typeof b.detail === "string" ? b.detail : (b.detail?.message || JSON.stringify(b.detail)); } catch (e) { /* not JSON */ }
    throw new ApiError(r.status, detail);
  }
  return r;
}
class ApiError extends Error { constructor(status, msg) { super(msg); this.status = status; } }
const getJSON = async (p) => (await api(p)).json();

let toastTimer = null;
function toast(msg) {
  const t = $("#toast"); t.textContent = msg; t.classList.add("show");
  clearTimeout(toastTimer); toastTimer = setTimeout(() => t.classList.remove("show"), 3500);
}

// ------------------------------------------------------------------ login
const ROLES = { uploader: "上传员", reviewer: "复核员", admin: "管理员" };
// who holds the token kept for this tab (sessionStorage: gone with the tab); the header shows the name or the form
async function whoAmI() {
  const headers = token() ? { Authorization: "Bearer " + token() } : {};
  const r = await fetch("/v1/me", { headers });
  if (!r.ok) { showLogin(token() ? "令牌无效、已撤销或已过期：请重新登录" : ""); return null; }
  const me = await r.json();
  $("#token-form").hidden = true;
  // a token bound to agencies sees only their reports: say which
  const bound = me.agencies ? ` · ${me.agencies.join("、")}` : "";
  $("#who").textContent = me.local ? "本地模式" : `${me.name}（${ROLES[me.role] || me.role}）${bound}`;
  $("#logout").hidden = me.local;
  $("#session").hidden = false;
  return me;
}
async function login(value) {
  const r = await fetch("/v1/me", { headers: value ? { Authorization: "Bearer " + value } : {} });
  if (!r.ok) { toast("令牌无效、已撤销或已过期"); $("#token-input").select(); return; }
  sessionStorage.setItem("xxgk-token", value);
  $("#token-input").value = "";
  toast("已登录");
  await whoAmI();
  route();
}
function showLogin(message) {
  $("#session").hidden = true;
  $("#token-form").hidden = false;
  $("#token-input").focus();
  if (message) toast(message);
}

// ------------------------------------------------------------------ router
let pollTimer = null;
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  $("#token-form").addEventListener("submit", (e) => { e.preventDefault(); login($("#token-input").value.trim()); });
  $("#logout").addEventListener("click", () => { sessionStorage.removeItem("xxgk-token"); showLogin("已退出"); });
  whoAmI().then(route);
});
function route() {
  clearTimeout(pollTimer);
  document.onkeydown = null;
  const m = location.hash.match(/^#\/r\/([0-9a-f]+)(?:\/(.+))?$/);
  if (m) return reportView(m[1], m[2] ? decodeURIComponent(m[2]) : null);
  if (location.hash === "#/stats") return statsView();
  return homeView();
}

// ------------------------------------------------------------------ review statistics (GET /v1/review/stats)
const OUTCOMES = [["flagged", "机器标记待复核"], ["confirmed", "确认无误（机器判断正确）"], ["corrected", "已更正"],
  ["open", "尚未复核"], ["missed", "漏标（未标记却被更正）"]];
const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
// a reason of the statistics in the reviewer's words: the API's text for the row; else the Chinese text the queue gives
// a cell flagged for that code (seen: code → text); else 其他原因 (the code stays in the row's tooltip)
const statsReason = (row, seen) => row.text || seen[row.reason] || "其他原因";
async function reasonTexts(rows) {
  const seen = {};
  if (rows.every((r) => r.text)) return seen;
  try {
    const q = await getJSON("/v1/review/queue?limit=500&lang=zh");
    for (const i of q.items) for (const x of i.reason_items || []) if (x.reason_code && !(x.reason_code in seen)) seen[x.reason_code] = x.text;
  } catch (e) { /* the rows keep 其他原因 */ }
  return seen;
}
function countCells(row, prefix) {
  return OUTCOMES.map(([k]) => `<td class="num" data-testid="${prefix}-${k}" data-value="${row[k]}">${row[k]}</td>`).join("")
    + ["confirmed_share", "corrected_share"].map((k) => `<td class="num" data-testid="${prefix}-${k}" data-value="${row[k] ?? ""}">${pct(row[k])}</td>`).join("");
}
const countHead = () => OUTCOMES.map(([, t]) => `<th class="num">${t}</th>`).join("") + `<th class="num">确认占比</th><th class="num">更正占比</th>`;

async function statsView() {
  const app = $("#app");
  app.innerHTML = `<section class="card" data-testid="stats"><h1>复核统计</h1><p class="muted">加载中…</p></section>`;
  let s;
  try { s = await getJSON("/v1/review/stats?limit=500&lang=zh"); } catch (e) {
    app.innerHTML = `<section class="card" data-testid="stats"><h1>复核统计</h1><p class="muted">${e.status === 403 ? "复核统计需要复核员令牌。" : esc(e.message)}</p></section>`;
    return;
  }
  const o = s.overall, seen = await reasonTexts(s.by_reason);
  app.innerHTML = `<section class="card" data-testid="stats"><h1>复核统计</h1>
    <p class="muted">已完成识别的报告 ${s.reports_counted} 份（已批准 <span data-testid="stats-approved">${s.reports_approved}</span> 份）。
      确认占比、更正占比按已复核（确认或更正）的单元格计算；某一原因的确认占比很高，说明它的阈值过于谨慎。</p>
    <div class="tiles" data-testid="stats-overall">
      ${OUTCOMES.map(([k, t]) => `<div class="tile"><div class="n" data-testid="stats-overall-${k}" data-value="${o[k]}">${o[k]}</div><div class="muted">${t}</div></div>`).join("")}
      <div class="tile"><div class="n" data-testid="stats-overall-confirmed_share" data-value="${o.confirmed_share ?? ""}">${pct(o.confirmed_share)}</div><div class="muted">确认占比</div></div>
      <div class="tile"><div class="n" data-testid="stats-overall-corrected_share" data-value="${o.corrected_share ?? ""}">${pct(o.corrected_share)}</div><div class="muted">更正占比</div></div>
    </div></section>
    <section class="card"><h2>按原因</h2>${s.by_reason.length ? `<table class="list stats" data-testid="stats-reasons"><thead><tr><th>原因</th>${countHead()}</tr></thead><tbody>
      ${s.by_reason.map((r) => `<tr data-testid="stats-reason" data-reason="${esc(r.reason)}" data-kind="${esc(r.kind)}" title="${esc(r.reason)}">
        <td data-testid="stats-reason-text">${esc(statsReason(r, seen))}</td>${countCells(r, "stats-reason")}</tr>`).join("")}</tbody></table>`
      : `<p class="muted">还没有被标记的单元格。</p>`}</section>
    <section class="card"><h2>按报告</h2>${s.reports.length ? `<table class="list stats" data-testid="stats-reports"><thead><tr><th>报告</th><th>年度</th><th>批准</th>${countHead()}</tr></thead><tbody>
      ${s.reports.map((r) => `<tr class="clickable" data-testid="stats-report" data-id="${r.report_id}" title="${esc(r.filename)}">
        <td>${esc(r.agency || r.filename)}</td><td>${r.year ?? ""}</td><td>${r.approved ? `<span class="badge approved">已批准</span>` : ""}</td>
        ${countCells(r, "stats-report")}</tr>`).join("")}</tbody></table>` : `<p class="muted">还没有完成识别的报告。</p>`}</section>`;
  app.querySelectorAll("tr[data-testid=stats-report]").forEach((tr) => tr.addEventListener("click", () => { location.hash = `#/r/${tr.dataset.id}`; }));
}

// ------------------------------------------------------------------ home: upload, reports, queue
async function homeView() {
  const app = $("#app");
  app.innerHTML = `
    <section class="card">
      <h1>上传报告</h1>
      <form id="upload-form" data-testid="upload-form">
        <input type="file" id="upload-file" data-testid="upload-file" required
               accept=".pdf,.docx,.html,.htm,.md,.txt,.png,.jpg,.jpeg,.tif,.tiff">
        <button class="primary" type="submit" data-testid="upload-submit">上传并识别</button>
        <span id="upload-status" class="muted" data-testid="upload-status"></span>
      </form>
      <p class="muted">支持扫描件（PDF、PNG、JPEG、TIFF）、文字版 PDF、Word、网页、Markdown 与纯文本。同一文件重复上传返回同一报告。</p>
    </section>
    <section class="card"><h2>报告</h2><div id="reports">加载中…</div></section>
    <section class="card"><h2>待复核单元格（置信度由低到高）</h2><div id="queue">加载中…</div></section>`;
  $("#upload-form").addEventListener("submit", upload);
  await refreshHome();
}

async function refreshHome() {
  try {
    const list = await getJSON("/v1/reports?limit=200");
    $("#reports").innerHTML = list.items.length ? `<table class="list" data-testid="reports"><thead><tr>
      <th>文件</th><th>机关</th><th>年度</th><th>状态</th><th>读取</th><th>待复核</th><th>未通过规则</th><th>批准</th></tr></thead><tbody>
      ${list.items.map((r) => `<tr class="clickable" data-id="${r.id}" data-testid="report-row">
        <td>${esc(r.filename)}</td><td>${esc(r.agency)}</td><td>${r.year ?? ""}</td>
        <td><span class="badge ${r.status}">${STATUS[r.status]}</span>${r.error ? ` <span class="muted">${esc(r.error)}</span>` : ""}</td>
        <td>${r.status === "done" ? coverageBadge(r) : ""}</td>
        <td>${r.status === "done" ? r.needs_review : ""}</td><td>${r.status === "done" ? r.failing_checks : ""}</td>
        <td>${r.approved ? `<span class="badge approved">已批准</span>` : r.only_explained ? `<span class="badge explained" data-testid="only-explained"
          title="待复核的单元格都来自已说明的版式偏差">仅含已说明偏差</span>` : ""}</td></tr>`).join("")}</tbody></table>`
      : `<p class="muted">还没有报告。</p>`;
    const explained = list.items.filter((r) => r.only_explained && !r.approved).map((r) => r.id);
    if (explained.length) {
      $("#reports").insertAdjacentHTML("afterbegin", `<p>${batchButton(explained)} <span class="muted">${explained.length} 份报告的待复核单元格都来自已说明的版式偏差</span></p>`);
      $("#approve-explained").addEventListener("click", () => approveExplained(explained, refreshHome));
    }
    $("#reports").querySelectorAll("tr[data-id]").forEach((tr) => tr.addEventListener("click", () => { location.hash = `#/r/${tr.dataset.id}`; }));
    if (list.items.some((r) => r.status === "queued" || r.status === "running")) pollTimer = setTimeout(refreshHome, 1500);
  } catch (e) { $("#reports").textContent = e.message; }
  try {
    const q = await getJSON("/v1/review/queue?limit=100&lang=zh");
    $("#queue").innerHTML = q.items.length ? `<table class="list" data-testid="queue"><thead><tr>
      <th>报告</th><th>表</th><th>行</th><th>列</th><th>值</th><th>置信度</th><th>原因</th></tr></thead><tbody>
      ${q.items.map((i) => `<tr class="clickable" data-testid="queue-item" data-id="${i.report_id}" data-cell="${esc(i.cell_id)}"
          title="${esc(i.cell_id)}">
        <td>${esc(i.agency || i.filename)} ${i.year ?? ""}</td><td>${esc(i.table_label || "")}</td>
        <td class="row-label" data-testid="queue-row">${esc(i.row_label || i.cell_id)}</td>
        <td data-testid="queue-column">${esc(columnText(i))}</td>
        <td>${i.status === "absent" ? `<span class="muted">未读出</span>` : fmtNum(i.value)}${
          i.start_from && (i.start_from.candidates || []).some((c) => c.proposed) ? ` <span class="badge proposed" data-testid="queue-proposed"
          title="读到了本行，有按规则成立的整行填法">有建议</span>` : ""}</td>
        <td>${i.status === "absent" ? "—" : i.confidence.toFixed(2)}</td>
        <td data-testid="queue-reasons">${reasonsHtml(i.reason_items)}</td></tr>`).join("")}
      </tbody></table><p class="muted">共 ${q.total} 个</p>` : `<p class="muted">没有待复核的单元格。</p>`;
    $("#queue").querySelectorAll("tr[data-id]").forEach((tr) => tr.addEventListener("click", () => {
      location.hash = `#/r/${tr.dataset.id}/${encodeURIComponent(tr.dataset.cell)}`;
    }));
  } catch (e) { $("#queue").innerHTML = `<p class="muted">${e.status === 403 ? "复核队列需要复核员令牌。" : esc(e.message)}</p>`; }
}

// batch approval of reports whose only flags are explained deviations (POST /v1/review/approve-explained)
const batchButton = (ids) => `<button class="primary" id="approve-explained" data-testid="approve-explained"
  data-reports="${esc(ids.join(" "))}">批量批准（仅含已说明的版式偏差）</button>`;
async function approveExplained(ids, then) {
  try {
    const r = await (await api("/v1/review/approve-explained", { method: "POST", json: { report_ids: ids, reason: "批量批准：仅含已说明的版式偏差" } })).json();
    toast(`已批准 ${r.approved.length} 份报告` + (r.skipped.length ? `，跳过 ${r.skipped.length} 份（另有待复核的单元格）` : ""));
  } catch (e) { toast("批量批准失败：" + e.message); }
  await then();
}

async function upload(e) {
  e.preventDefault();
  const file = $("#upload-file").files[0];
  if (!file) return;
  const fd = new FormData(); fd.append("file", file);
  $("#upload-status").textContent = "上传中…";
  try {
    const r = await (await api("/v1/reports", { method: "POST", body: fd })).json();
    $("#upload-status").textContent = r.duplicate ? "该文件已上传过" : "已上传，识别中…";
    location.hash = `#/r/${r.id}`;
  } catch (err) { $("#upload-status").textContent = "上传失败：" + err.message; }
}

// ------------------------------------------------------------------ report view
// drafts: values typed in a row's editors and not saved yet (cell id → text)
const state = { report: null, result: null, schema: null, selected: null, editing: false, pageCache: {}, drafts: {} };

async function reportView(id, focusCell) {
  const app = $("#app");
  app.innerHTML = `<p class="muted">加载中…</p>`;
  let report;
  try { report = await getJSON(`/v1/reports/${id}`); } catch (e) { app.innerHTML = `<p>${esc(e.message)}</p>`; return; }
  if (report.status === "queued" || report.status === "running") {
    app.innerHTML = `<div class="card"><h1>${esc(report.filename)}</h1>
      <p data-testid="job-status"><span class="badge ${report.status}">${STATUS[report.status]}</span> 正在识别，完成后自动显示。</p></div>`;
    pollTimer = setTimeout(() => reportView(id, focusCell), 1000);
    return;
  }
  if (report.status === "failed") {
    app.innerHTML = `<div class="card"><h1>${esc(report.filename)}</h1>
      <p data-testid="job-status"><span class="badge failed">失败</span> ${esc(report.error)}</p></div>`;
    return;
  }
  state.report = report; state.result = report.result; state.view = report.view; state.selected = null; state.editing = false;
  state.drafts = {};
  state.schema = await getJSON(`/v1/schema/${report.result.format}`);
  state.labels = instanceLabels(state.schema);
  renderReport();
  document.onkeydown = onKey;
  const first = focusCell || firstReviewCell();
  if (first) select(first);
}

function renderReport() {
  const r = state.report, res = state.result;
  $("#app").innerHTML = `
    <div class="card"><h1 data-testid="report-title">${esc(res.agency || r.filename)} ${res.year ?? ""} 年度报告
      <span class="muted">（${esc(r.filename)} · ${res.format} 版格式 · 第 ${r.version} 版结果）</span></h1>
      <span id="approval">${approvalHtml()}</span>
      <span class="muted" id="counts" data-testid="counts"></span>
      <div class="legend muted">图例：<span class="lg-read">已读取</span><span class="lg-repaired">规则修正</span>
        <span class="lg-review">待复核</span><span class="lg-fail">规则未通过</span>
        <span class="lg-corrected">人工更正</span></div>
      ${$("#help").innerHTML}
    </div>
    <div class="layout">
      <div class="pane-left">
        <div class="card"><div class="page" id="page" data-testid="page"><img id="page-img" alt="">
          <div class="hl" id="page-hl" data-testid="page-highlight"></div><div id="page-toks"></div></div>
          <p class="muted" id="page-note">选择单元格以查看原文位置。</p></div>
        <div class="card detail" id="detail" data-testid="cell-detail"></div>
        <div class="card"><h2>规则检查</h2><ul class="rules" id="rules" data-testid="rules"></ul></div>
        <div class="card" id="deviations" data-testid="deviations"></div>
      </div>
      <div>
        <div class="card coverage" id="coverage" data-testid="report-coverage"></div>
        <div class="card" id="tables"></div>
        <div class="card facts" id="facts" data-testid="facts"></div>
      </div>
    </div>`;
  wireApproval();
  $("#tables").innerHTML = tablesHtml();
  $("#tables").querySelectorAll("td.v").forEach((td) => {
    td.addEventListener("click", () => { if (state.selected === td.dataset.cell && !state.editing) edit(); else select(td.dataset.cell); });
  });
  paintCells(); renderRules(); renderFacts(); renderCoverage(); renderDeviations();
}

// the source's deviations from the format, in the reviewer's words (the id in the tooltip)
function renderDeviations() {
  const devs = (state.view && state.view.deviations) || [];
  $("#deviations").innerHTML = `<h2>原文与格式的差异</h2>` + (devs.length ? `<ul class="devs">${devs.map((d) => `
    <li class="${esc(d.severity)}" data-testid="deviation" data-deviation="${esc(d.id)}" title="${esc(d.id)}">${esc(d.title)}${
      d.cell_labels.length ? `<span class="muted">：${esc(d.cell_labels.slice(0, 4).join("；"))}${d.cell_labels.length > 4 ? ` 等 ${d.cell_labels.length} 个单元格` : ""}</span>` : ""}</li>`).join("")}</ul>`
    : `<p class="muted">无</p>`);
}

function renderCoverage() {
  const r = state.report, box = $("#coverage");
  box.hidden = !r.coverage;
  box.innerHTML = `读取情况：${coverageBadge(r)} ` + (r.coverage === "complete" ? `<span class="muted">三张表均已读完</span>`
    : `<span data-testid="coverage-reasons">${esc(r.coverage_reasons.map(coverageReason).join("；"))}</span>
       <span class="muted">· 未读取的单元格已列入待复核，逐一更正后即为完整</span>`);
}

function approvalHtml() {
  const r = state.report;
  if (r.approved) return `<span class="badge approved" data-testid="approved">已批准 · ${esc(r.approved_by)}</span>`;
  return `<button class="primary" id="approve" data-testid="approve">批准本报告</button>` + (r.only_explained ? " " + batchButton([r.id]) : "");
}
function wireApproval() {
  $("#approve")?.addEventListener("click", approve);
  $("#approve-explained")?.addEventListener("click", () => approveExplained([state.report.id], () => reportView(state.report.id, state.selected)));
}

// ---- the three tables as the official format prints them
function vcell(id) { return `<td class="v" tabindex="-1" data-cell="${esc(id)}" data-testid="cell-${esc(id)}"></td>`; }

function tablesHtml() {
  const s = state.schema;
  let h = `<h2>二、主动公开政府信息情况</h2>`;
  for (const b of s.t2) {
    const n = Math.max(...s.t2.map((x) => x.columns.length));
    h += `<table class="fmt" data-testid="t2-${b.id}"><tr><th colspan="${n + 1}">${esc(b.label)}</th></tr>
      <tr><th>信息内容</th>${b.columns.map((c) => `<th colspan="${c === b.columns.at(-1) ? n - b.columns.length + 1 : 1}">${esc(c.label)}</th>`).join("")}</tr>
      ${b.rows.map((row) => `<tr><td class="label">${esc(row.label)}</td>${b.columns.map((c, k) => vcell(`t2.${b.id}.${row.id}.${c.id}`)
        .replace("<td ", `<td colspan="${k === b.columns.length - 1 ? n - b.columns.length + 1 : 1}" `)).join("")}</tr>`).join("")}</table>`;
  }
  const cols = s.t3.columns.filter((c) => c.id !== "legal_or_other_org");
  const org = cols.filter((c) => c.group === "legal_or_other_org");
  h += `<h2>三、收到和处理政府信息公开申请情况</h2><table class="fmt" data-testid="t3">
    <tr><th rowspan="3">（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）</th><th colspan="${cols.length}">申请人情况</th></tr>
    <tr><th rowspan="2">自然人</th><th colspan="${org.length}">法人或其他组织</th><th rowspan="2">总计</th></tr>
    <tr>${org.map((c) => `<th>${esc(c.label)}</th>`).join("")}</tr>`;
  const order = ["natural_person", ...org.map((c) => c.id), "total"];
  for (const row of s.t3.rows) {
    if (!row.has_values) { h += `<tr><td class="label l${row.level}" colspan="${order.length + 1}">${esc(row.label)}</td></tr>`; continue; }
    h += `<tr><td class="label l${row.level}">${esc(row.label)}</td>${order.map((c) => vcell(`t3.${row.id}.${c}`)).join("")}</tr>`;
  }
  h += `</table><h2>四、政府信息公开行政复议、行政诉讼情况</h2><table class="fmt" data-testid="t4">
    <tr><th colspan="5">行政复议</th><th colspan="10">行政诉讼</th></tr>
    <tr>${s.t4.columns.map((c) => `<th rowspan="2">${esc(c.label)}</th>`).join("")}
      ${s.t4.groups.slice(1).map((g) => `<th colspan="5">${esc(g.label)}</th>`).join("")}</tr>
    <tr>${s.t4.groups.slice(1).map(() => s.t4.columns.map((c) => `<th>${esc(c.label)}</th>`).join("")).join("")}</tr>
    <tr>${s.t4.groups.map((g) => s.t4.columns.map((c) => vcell(`t4.${g.id}.${c.id}`)).join("")).join("")}</tr></table>`;
  return h;
}

function failingCells() {
  const out = new Set();
  for (const c of state.result.checks) if (c.status === "fail") c.cells.forEach((id) => out.add(id));
  return out;
}

function statusClass(cell, failing, id) {
  if (!cell) return "st-absent";
  if (cell.status === "corrected") return "st-corrected";
  if (failing.has(id)) return "st-fail";
  if (cell.needs_review) return "st-review";
  if (cell.status === "repaired") return "st-repaired";
  if (cell.status === "absent") return "st-absent";
  return "st-read";
}

function paintCells() {
  const failing = failingCells();
  let review = 0;
  document.querySelectorAll("#tables td.v").forEach((td) => {
    const id = td.dataset.cell, cell = state.result.cells[id];
    const draft = id in state.drafts && !(state.editing && state.selected === id);
    td.className = "v " + statusClass(cell, failing, id) + (state.selected === id ? " selected" : "") + (draft ? " draft" : "");
    td.dataset.status = cell ? cell.status : "absent";
    td.dataset.review = cell && cell.needs_review ? "1" : "0";
    if (!(state.editing && state.selected === id)) {
      td.textContent = draft ? state.drafts[id] : !cell ? "—" : cell.status === "absent" ? "—" : cell.status === "not_applicable" ? (cell.raw || "/") : fmtNum(cell.value);
    }
    const v = cellView(id);
    td.title = `${v ? printedLabel(v) : id}\n` + (cell ? `${CELL_STATUS[cell.status] || cell.status}` + (cell.status === "absent" ? "" : ` · 置信度 ${cell.confidence}`)
      + (v && v.reasons.length ? "\n" + v.reasons.map((x) => x.text).join("\n") : "") : "本报告没有此单元格") + `\n（${id}）`;
    if (cell && cell.needs_review) review++;
  });
  const fails = state.result.checks.filter((c) => c.status === "fail").length;
  $("#counts").textContent = ` 待复核 ${review} 个单元格 · 未通过规则 ${fails} 条`;
}

function instanceLabels(s) {
  const out = {};
  s.t3.columns.forEach((c) => { out[c.id] = c.label; });
  s.t3.rows.forEach((r) => { out[r.id] = r.label; });
  s.t4.groups.forEach((g) => { out[g.id] = g.label; });
  s.t2.forEach((b) => { out[b.id] = b.label; b.rows.forEach((r) => { out[`${b.id}.${r.id}`] = `${b.label} ${r.label}`; }); });
  return out;
}

// a rule result: stored checks as the server writes them (the equation in printed labels with its numbers); a preview
// while a value is typed: the rule's name and where it applies
function ruleText(c, isPreview) {
  const v = !isPreview && state.view && state.view.checks.find((x) => x.index === state.result.checks.indexOf(c));
  if (v) return `<span data-testid="rule-text">${esc(v.text)}</span>`;
  return `${esc(RULES[c.rule] || "规则")} <span class="muted">· ${esc(state.labels[c.instance] || "")}${
    c.status === "fail" ? ` · 左边 ${fmtNum(c.lhs)} ≠ 右边 ${fmtNum(c.rhs)}` : ""}</span>`;
}

function renderRules(preview = null, isPreview = false) {
  const checks = [...(preview || state.result.checks)].sort((a, b) => (a.status === "fail" ? 0 : a.status === "pass" ? 1 : 2) - (b.status === "fail" ? 0 : b.status === "pass" ? 1 : 2));
  $("#rules").dataset.preview = isPreview ? "1" : "0";
  $("#rules").innerHTML = (isPreview ? `<li class="not_assessable" data-testid="rules-preview">预览：按 Enter 保存后生效</li>` : "") + checks.map((c, i) => `<li class="${c.status}" data-i="${i}" data-rule="${esc(c.rule)}" data-instance="${esc(c.instance)}"
      data-status="${c.status}" data-testid="rule" title="${esc(c.rule + " · " + c.expr)}">
      <span class="badge ${c.status}">${CHECK[c.status]}</span> ${ruleText(c, isPreview)}</li>`).join("");
  $("#rules").querySelectorAll("li[data-i]").forEach((li) => li.addEventListener("click", () => {
    const c = checks[+li.dataset.i];
    document.querySelectorAll("#tables td.v.in-check").forEach((td) => td.classList.remove("in-check"));
    c.cells.forEach((id) => document.querySelector(`#tables td.v[data-cell="${CSS.escape(id)}"]`)?.classList.add("in-check"));
    if (c.cells.length) select(c.cells.find((id) => state.result.cells[id]?.needs_review) || c.cells[0]);
  }));
}

function renderFacts() {
  const res = state.result;
  const failed = new Set(res.checks.filter((c) => c.rule === "text_vs_table" && c.status === "fail").map((c) => c.instance));
  const bySection = {};
  for (const f of res.facts) {
    const sec = Object.values(res.sections).find((s) => s.text && s.text.includes(f.sentence));
    (bySection[sec ? sec.id : "?"] ||= []).push(f);
  }
  let h = `<h2>正文中的数字（叙述事实）<button class="small" id="facts-displacy" data-testid="facts-displacy"
    title="用 spaCy displaCy 显示事实标签">displaCy 视图</button></h2><div id="facts-body">`;
  if (!res.facts.length) h += `<p class="muted">正文中没有识别到数字事实。</p>`;
  for (const sec of Object.values(res.sections)) {
    const facts = bySection[sec.id];
    if (!facts) continue;
    h += `<h3>${esc(sec.heading || sec.title)}</h3>`;
    const sentences = [...new Set(facts.map((f) => f.sentence))];
    for (const s of sentences) {
      let html = "", pos = 0;
      // the facts of a sentence in the order they stand in the text: each at the next occurrence of its number
      for (const f of facts.filter((x) => x.sentence === s).sort((a, b) => a.block - b.block || a.start - b.start)) {
        const at = s.indexOf(f.text, pos);
        if (at < 0) continue;
        html += esc(s.slice(pos, at)) + `<mark class="fact ${failed.has(f.id) ? "fail" : ""}" data-testid="fact" data-fact="${esc(f.id)}"
          title="${esc(f.id)}${f.cue ? " · " + esc(f.cue) : ""} · 置信度 ${f.confidence}">${esc(f.text)}</mark>`;
        pos = at + f.text.length;
      }
      h += `<p>${html + esc(s.slice(pos))}</p>`;
    }
  }
  $("#facts").innerHTML = h + "</div>";
  $("#facts-displacy").addEventListener("click", showDisplacy);
}

// the same facts as labelled spans rendered by displaCy on the server (GET …/facts.html)
async function showDisplacy() {
  const button = $("#facts-displacy");
  if (button.dataset.on === "1") { renderFacts(); return; }
  try {
    const html = await (await api(`/v1/reports/${encodeURIComponent(state.report.id)}/facts.html?fragment=true`)).text();
    $("#facts-body").innerHTML = `<div class="displacy" data-testid="displacy">${html}</div>`;
    button.dataset.on = "1"; button.textContent = "标记视图";
  } catch (e) { toast("displaCy 视图加载失败：" + e.message); }
}

// ---- selection, page image, detail
function reviewOrder() {
  return [...document.querySelectorAll("#tables td.v")].filter((td) => td.dataset.review === "1" || td.classList.contains("st-fail")).map((td) => td.dataset.cell);
}
function firstReviewCell() { return reviewOrder()[0] || null; }

function tdOf(id) { return document.querySelector(`#tables td.v[data-cell="${CSS.escape(id)}"]`); }
// the cells of the row a cell stands in, left to right as the table prints them (those this report has)
function rowOf(id) {
  const td = tdOf(id);
  if (!td) return [id];
  return [...td.parentElement.querySelectorAll("td.v")].map((x) => x.dataset.cell).filter((c) => state.result.cells[c]);
}

function select(id) {
  state.selected = id; state.editing = false;
  const td = tdOf(id);
  document.querySelectorAll("#tables td.v.selected").forEach((x) => x.classList.remove("selected"));
  if (td) { td.classList.add("selected"); td.focus({ preventScroll: true }); td.scrollIntoView({ block: "nearest" }); }
  paintCells();
  const cell = state.result.cells[id], v = cellView(id);
  const absent = cell && cell.status === "absent";
  const inferred = cell && cell.inferred_value !== null && cell.inferred_value !== undefined;
  const sf = (v && v.start_from) || null;
  $("#detail").innerHTML = cell ? `<dl>
      <dt>单元格</dt><dd data-testid="detail-label" data-cell="${esc(id)}" title="${esc(id)}">${v ? `<span data-testid="detail-row">${esc(v.row_label)}</span> × <span data-testid="detail-column">${esc(columnText(v))}</span>` : esc(id)}</dd>
      <dt>值</dt><dd data-testid="detail-value">${absent ? `<span class="muted">未读出</span>` : fmtNum(cell.value) || "（空）"}${inferred ? `（规则推算 ${fmtNum(cell.inferred_value)}${RULES[cell.inferred_by] ? "，依据" + esc(RULES[cell.inferred_by]) : ""}）` : ""}</dd>
      <dt>原文</dt><dd>${absent ? `<span class="muted">原文中未读到此格</span>` : cell.raw ? esc(cell.raw) : "—"}</dd>
      <dt>状态</dt><dd>${CELL_STATUS[cell.status] || cell.status}${cell.original_value !== null && cell.original_value !== undefined ? `（原读数 ${fmtNum(cell.original_value)}）` : ""}</dd>
      <dt>置信度</dt><dd>${absent ? "—" : cell.confidence}</dd>
      <dt>版本</dt><dd>${cell.version}</dd>
      <dt>原因</dt><dd data-testid="detail-reasons">${v && v.reasons.length ? reasonsHtml(v.reasons) : "—"}</dd></dl>
      <div id="start-from" class="start-from" data-testid="start-from" ${sf ? "" : "hidden"}>${sf ? startFromHtml(sf) : ""}</div>
      ${state.report.approved ? "" : `<p class="row-actions"><button type="button" id="accept-row" data-testid="accept-row"
        title="把本行编辑框中的值与本行待复核的读数一次保存（Ctrl+Enter）">行全部确认</button></p>`}`
    : `<p>${v ? esc(printedLabel(v)) : esc(id)}：本报告没有此单元格</p>`;
  if (cell) wireDetail(id, sf);
  showPage(cell, sf);
}

// ---- start from what was read: the raw reading of the cell's row and one-click candidates
const ORIGIN = { ocr: "OCR 识别", pdf_text: "文字层", text_layer: "文字层", docx: "Word 文本", html: "网页文本", text: "纯文本" };
// the equations a candidate keeps or breaks (their text, for the tooltip; a rule id by its name)
const ruleNames = (names) => (names || []).map((r) => RULES[r] || r).join("\n");
function valuesTable(sf, values, testid) {
  return `<table class="mini" data-testid="${testid}"><tr>${(sf.column_labels || []).map((c) => `<th>${esc(c)}</th>`).join("")}</tr>
    <tr>${sf.cells.map((cid) => `<td data-cell="${esc(cid)}">${values[cid] === null || values[cid] === undefined ? "—" : fmtNum(values[cid])}</td>`).join("")}</tr></table>`;
}
function startFromHtml(sf) {
  const read = sf.read;
  let h = `<h3>从读到的内容开始${sf.row ? ` <span class="muted" data-testid="sf-row" title="${esc(sf.row)}">${esc(sf.row_label || "")}</span>` : ""}</h3>`;
  if (read) {
    h += `<p data-testid="sf-read" data-origin="${esc(read.origin)}" data-page="${read.page ?? ""}">读到的本行（${read.page ? `第 ${read.page} 页，` : ""}${
      ORIGIN[read.origin] || "原文"}）：<q data-testid="sf-read-text" title="${esc(read.label || "")}">${esc(read.text)}</q>${
      read.matched === false ? `<br><span class="muted" data-testid="sf-unmatched">此行的标签没有读对，上面是在本行位置读到的一行</span>` : ""}</p>`;
    if (read.tokens && read.tokens.length) {
      h += `<p class="toks">读出的数字：${read.tokens.map((t, i) => `<span class="tok" data-testid="sf-token" data-i="${i}" data-page="${t.page ?? ""}"
        data-bbox="${esc((t.bbox || []).join(","))}" title="第 ${t.page ?? "—"} 页 · 位置 ${t.bbox ? t.bbox.map((x) => Math.round(x)).join("，") : "—"}${
        t.confidence !== null && t.confidence !== undefined ? ` · 置信度 ${t.confidence}` : ""}">${t.raw ? esc(t.raw) : `<span class="muted">空白</span>`}</span>`).join(" ")}</p>`;
    }
  } else h += `<p class="muted" data-testid="sf-read">原文中没有读到此行。</p>`;
  const cands = (sf.candidates || []).map((c, i) => [c, i]).sort((a, b) => Number(b[0].proposed) - Number(a[0].proposed));
  if (cands.length) {
    h += `<p class="muted">候选（点击一次即填入整行 ${sf.cells.length} 格）：</p><div class="cands">` + cands.map(([c, i]) => `<button type="button" class="cand${c.proposed ? " proposed" : ""}"
      data-testid="sf-candidate" data-i="${i}" data-how="${esc(c.how)}" data-proposed="${c.proposed ? 1 : 0}"
      title="${esc(`${c.how}${c.rules_hold && c.rules_hold.length ? `\n成立：\n${ruleNames(c.rules_hold)}` : ""}${c.rules_broken && c.rules_broken.length ? `\n不成立：\n${ruleNames(c.rules_broken)}` : ""}`)}">
      ${c.proposed ? `<span class="badge proposed" data-testid="sf-proposed">建议</span> ` : ""}<span data-testid="sf-candidate-text">${esc(c.text)}</span>
      ${c.summary ? `<span class="muted" data-testid="sf-candidate-summary">（${esc(c.summary)}）</span>` : ""}
      ${valuesTable(sf, c.values, "sf-candidate-values")}</button>`).join("") + "</div>";
  }
  if (sf.inferred !== null && sf.inferred !== undefined) {
    h += `<p><button type="button" class="cand" data-testid="sf-inferred" data-value="${sf.inferred}">采用规则推算值 ${fmtNum(sf.inferred)}（仅此格）</button></p>`;
  }
  return h;
}
function wireDetail(id, sf) {
  $("#accept-row")?.addEventListener("click", () => acceptRow());
  if (!sf) return;
  $("#start-from").querySelectorAll("[data-testid=sf-candidate]").forEach((b) => b.addEventListener("click", () => {
    const c = sf.candidates[+b.dataset.i];
    applyRow(c.values, `复核采用候选：${c.text}`, id, "已按候选填入整行，规则已重新检查");
  }));
  $("#start-from").querySelector("[data-testid=sf-inferred]")?.addEventListener("click", () => save(id, String(sf.inferred), "复核采用规则推算值"));
  $("#start-from").querySelectorAll("[data-testid=sf-token]").forEach((t) => {
    const box = () => document.querySelector(`#page-toks [data-i="${t.dataset.i}"]`);
    t.addEventListener("mouseenter", () => box()?.classList.add("hot"));
    t.addEventListener("mouseleave", () => box()?.classList.remove("hot"));
  });
}

async function pageImage(n) {
  if (!state.pageCache[n]) {
    const r = await api(`/v1/reports/${state.report.id}/pages/${n}.png`);
    state.pageCache[n] = { url: URL.createObjectURL(await r.blob()), scale: parseFloat(r.headers.get("X-Page-Scale")) };
  }
  return state.pageCache[n];
}

// the page of the cell (its box highlighted), or for a cell not read the page of its row's reading with the box of each
// number read there
async function showPage(cell, sf = null) {
  const img = $("#page-img"), hl = $("#page-hl"), note = $("#page-note"), toks = $("#page-toks");
  hl.style.display = "none"; toks.innerHTML = "";
  const src = cell && cell.source && cell.source.page ? cell.source : null;
  const read = sf && sf.read;
  const tokens = (read && read.tokens) || [];
  const key = src ? src.page : (read && read.page) || (tokens[0] && tokens[0].page);
  if (!key) { note.textContent = cell && cell.source ? "此来源没有页面图像（网页、Word、文本）。" : read ? "读到的本行没有页面位置。" : "此单元格未在原文中找到。"; return; }
  let page;
  try { page = await pageImage(key); } catch (e) { note.textContent = e.status === 404 ? "此来源没有页面图像（网页、Word、文本）。" : e.message; return; }
  const origin = src ? src.origin : read.origin;
  note.textContent = `第 ${key} 页（${ORIGIN[origin] || origin}）` + (!src && tokens.length ? "：框出的是本行读到的数字" : "");
  const place = () => {
    const k = (img.clientWidth / img.naturalWidth) * page.scale;
    const at = (el, [x0, y0, x1, y1], pad) => Object.assign(el.style, { left: `${x0 * k - pad}px`, top: `${y0 * k - pad}px`,
      width: `${(x1 - x0) * k + 2 * pad}px`, height: `${(y1 - y0) * k + 2 * pad}px`, display: "block" });
    if (src && src.bbox) at(hl, src.bbox, 3);
    toks.innerHTML = "";
    tokens.forEach((t, i) => {
      if (!t.bbox || (t.page && t.page !== key)) return;
      const box = document.createElement("div");
      box.className = "tok-box"; box.dataset.i = String(i); box.dataset.testid = "page-token"; box.title = t.raw;
      toks.appendChild(box); at(box, t.bbox, 2);
    });
  };
  if (img.dataset.page !== String(key)) { img.onload = place; img.src = page.url; img.dataset.page = String(key); } else place();
}

// ---- editing: one cell at a time, or a row (Tab/Shift-Tab move the editor along the row; the values typed stay as
// drafts until the row is accepted)
const parseValue = (text) => {
  const t = String(text).trim().replace(/[,，\s]/g, "");
  return t === "" ? null : Number(t);
};
function edit() {
  if (state.report.approved) { toast("报告已批准，不能再更正"); return; }
  const id = state.selected, cell = state.result.cells[id];
  const td = tdOf(id);
  if (!td || !cell) return;
  state.editing = true;
  const text = id in state.drafts ? state.drafts[id] : fmtNum(cell.value);
  td.innerHTML = `<input data-testid="cell-input" inputmode="decimal" value="${esc(text)}">`;
  const input = td.querySelector("input");
  input.focus(); input.select();
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); e.stopPropagation(); keepDraft(id, input.value); acceptRow(); }
    else if (e.key === "Enter") { e.preventDefault(); e.stopPropagation(); save(id, input.value); }
    else if (e.key === "Tab") {
      e.preventDefault(); e.stopPropagation();
      keepDraft(id, input.value);
      moveAlongRow(id, e.shiftKey ? -1 : 1, true);
    } else if (e.key === "Escape") {
      e.preventDefault(); e.stopPropagation(); delete state.drafts[id]; state.editing = false; paintCells(); renderRules(); td.focus();
    }
  });
  input.addEventListener("blur", () => {  // left without Enter or Esc (a click on 行全部确认 …): the value stays a draft
    if (state.editing && state.selected === id) { keepDraft(id, input.value); state.editing = false; paintCells(); renderRules(); }
  });
  input.addEventListener("input", () => {  // the rule panel follows the value as it is typed (nothing stored)
    clearTimeout(state.previewTimer);
    state.previewTimer = setTimeout(() => previewRules(id, input.value), 200);
  });
}
// a value typed in a row's editor, kept until the row is accepted (dropped when it is the cell's value)
function keepDraft(id, text) {
  const cell = state.result.cells[id];
  if (String(text).trim() === fmtNum(cell.value)) delete state.drafts[id];
  else state.drafts[id] = String(text).trim();
}
function moveAlongRow(id, step, editing) {
  const row = rowOf(id);
  const i = row.indexOf(id);
  if (i < 0 || row.length < 2) return;
  const next = row[(i + step + row.length) % row.length];
  state.selected = next;  // before the editor goes: its blur must not repaint over the move
  select(next);
  if (editing) edit();
}

async function previewRules(id, text) {
  const value = parseValue(text);
  if (!state.editing || state.selected !== id || (value !== null && !Number.isFinite(value))) return;
  try {
    const checks = await (await api(`/v1/reports/${state.report.id}/cells/${encodeURIComponent(id)}/preview`, {
      method: "POST", json: { value } })).json();
    if (state.editing && state.selected === id) renderRules(checks, true);
  } catch (e) { /* the panel keeps the stored checks */ }
}

// the newest result version after a change: the checks re-run, cells released by them, the report's counts
async function reload(focus) {
  const fresh = await getJSON(`/v1/reports/${state.report.id}`);
  state.result = fresh.result; state.report = fresh; state.view = fresh.view;
  state.editing = false;
  $("#approval").innerHTML = approvalHtml(); wireApproval();
  paintCells(); renderRules(); renderFacts(); renderCoverage(); renderDeviations();
  select(focus);
}

async function save(id, text, why = null) {
  const cell = state.result.cells[id];
  const value = parseValue(text);
  if (value !== null && !Number.isFinite(value)) { toast("请输入数字（留空表示空白）"); return; }
  const reason = why || (fmtNum(value) === fmtNum(cell.value) && cell.status !== "corrected" ? "复核确认" : "复核更正");
  try {
    await api(`/v1/reports/${state.report.id}/cells/${encodeURIComponent(id)}`, {
      method: "PATCH", json: { value, expected_version: cell.version, reason } });
    delete state.drafts[id];
    state.editing = false;
    toast(reason === "复核确认" ? "已确认" : "已更正，规则已重新检查");
    await reload(id);
    const next = reviewOrder().find((x) => x !== id);
    select(next || id);
  } catch (e) {
    state.editing = false;
    if (e.status === 409) { toast("该单元格已被他人修改，已刷新"); reportView(state.report.id, id); }
    else { toast("保存失败：" + e.message); paintCells(); }
  }
}

// several cells of a row at once (PATCH …/cells: all or nothing); values: {cell id: number | null}
async function applyRow(values, reason, focus, done) {
  if (state.report.approved) { toast("报告已批准，不能再更正"); return false; }
  const changes = Object.entries(values).filter(([cid]) => state.result.cells[cid])
    .map(([cid, value]) => ({ cell_id: cid, value, expected_version: state.result.cells[cid].version }));
  if (!changes.length) { toast("本行没有需要保存的单元格"); return false; }
  try {
    await api(`/v1/reports/${state.report.id}/cells`, { method: "PATCH", json: { changes, reason } });
  } catch (e) {
    state.editing = false;
    if (e.status === 409) { toast("本行有单元格已被他人修改或报告已批准，已刷新"); reportView(state.report.id, focus); }
    else { toast("保存失败：" + e.message); paintCells(); }
    return false;
  }
  changes.forEach((c) => delete state.drafts[c.cell_id]);
  toast(done);
  await reload(focus);
  return true;
}

// 行全部确认: the values in the row's editors (drafts) and the row's flagged readings, saved at once
async function acceptRow() {
  const id = state.selected;
  if (!id || !state.result.cells[id]) return;
  const values = {};
  let changed = 0;
  for (const cid of rowOf(id)) {
    const cell = state.result.cells[cid];
    if (cid in state.drafts) {
      const v = parseValue(state.drafts[cid]);
      if (v !== null && !Number.isFinite(v)) { toast("请输入数字（留空表示空白）"); select(cid); edit(); return; }
      values[cid] = v;
      changed += fmtNum(v) !== fmtNum(cell.value) || cell.status === "absent" ? 1 : 0;
    } else if (cell.needs_review && cell.status !== "absent") values[cid] = cell.value;
  }
  await applyRow(values, changed ? "整行复核更正" : "整行复核确认", id, changed ? "整行已保存，规则已重新检查" : "整行已确认");
}

async function approve() {
  try {
    const r = await (await api(`/v1/reports/${state.report.id}/approve`, { method: "POST", json: {} })).json();
    state.report = Object.assign(state.report, r);
    $("#approval").innerHTML = approvalHtml();
    toast("报告已批准");
  } catch (e) { toast("批准失败：" + e.message); }
}

function onKey(e) {
  if (state.editing || e.target.tagName === "INPUT") return;
  if (!state.result) return;
  const order = reviewOrder();
  if (e.key === "j" || e.key === "J" || e.key === "k" || e.key === "K") {
    e.preventDefault();
    if (!order.length) { toast("没有待复核的单元格"); return; }
    const i = order.indexOf(state.selected);
    const step = e.key.toLowerCase() === "j" ? 1 : -1;
    select(order[(i + step + order.length) % order.length] ?? order[0]);
  } else if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && state.selected) { e.preventDefault(); acceptRow(); }
  else if (e.key === "Enter" && state.selected) { e.preventDefault(); edit(); }
  else if (e.key === "Tab" && state.selected && e.target.matches && e.target.matches("#tables td.v")) {
    e.preventDefault(); moveAlongRow(state.selected, e.shiftKey ? -1 : 1, false);
  }
}
