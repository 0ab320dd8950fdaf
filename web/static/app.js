// hoidap: streams answers into the chat, opens cited articles beside it, sends feedback,
// keeps the list of conversations.
// Data from the server is only ever set with textContent, never parsed as HTML.
"use strict";

const WIDE = window.matchMedia("(min-width: 960px)");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
  }
  return node;
}

function announce(text) {
  const status = document.getElementById("chat-status");
  if (status) status.textContent = text;
}

function seconds(value) {
  return value.toFixed(2).replace(".", ",");
}

// ----- rendering an answer (the same markup as _answer.html, _labels.html and _feedback.html) -----

function titleOf(item) {
  if (!item.title_generated) return [item.title];
  return [el("span", { class: "label untitled", title: "Bài viết không có tiêu đề; đây là những chữ đầu bài" },
    "Không có tiêu đề"), " " + item.title];
}

function dateOf(item) {
  if (!item.date) return null;
  return el("span", { class: "date" }, item.date, item.date_in_text ? " " : null,
    item.date_in_text ? el("span", { class: "label", title: "Phần đầu bài không ghi ngày; ngày này tìm thấy trong nội dung" },
      "(ngày trong bài)") : null);
}

function sourceAttrs(className, item) {
  const attrs = {
    class: className,
    href: item.url,
    "data-article": item.article_id,
    "data-start": item.start,
    "data-end": item.end,
  };
  if (item.answer_start !== undefined && item.answer_start !== null) {
    attrs["data-answer-start"] = item.answer_start;
    attrs["data-answer-end"] = item.answer_end;
  }
  return attrs;
}

function renderAnswer(answer) {
  const parts = [];
  if (answer.standalone_question && answer.standalone_question !== answer.question) {
    parts.push(el("p", { class: "understood" }, "Đã hiểu câu hỏi là: ",
      el("q", {}, answer.standalone_question)));
  }
  if (answer.refused) {
    const section = el("section", { class: "bubble answer refused", "aria-label": "Không có câu trả lời" },
      el("p", { class: "speaker" }, "hoidap"),
      el("p", { class: "refusal-text" }, el("span", { class: "refusal-icon", "aria-hidden": "true" }, "!"),
        " " + answer.text));
    if (answer.passages.length) {
      section.append(el("p", { class: "passages-title" }, "Các đoạn gần nhất tìm được:"));
      section.append(el("ol", { class: "passages" }, ...answer.passages.map((p) => el("li", {},
        el("a", sourceAttrs("source-link", p), ...titleOf(p)),
        dateOf(p),
        el("p", { class: "snippet" }, p.text)))));
    }
    parts.push(section);
  } else {
    const byNumber = new Map(answer.citations.map((c) => [c.number, c]));
    const text = el("p", { class: "answer-text" });
    for (const sentence of answer.sentences) {
      const span = el("span", { class: sentence.supported ? "sentence" : "sentence unsupported" });
      if (!sentence.supported) {
        span.append(el("span", { class: "flag", "aria-hidden": "true" }, "?"),
          el("span", { class: "visually-hidden" }, "Chưa được nguồn xác nhận: "));
      }
      span.append(sentence.text);
      for (const number of sentence.citations) {
        const c = byNumber.get(number);
        span.append(" ", el("a", { ...sourceAttrs("cite", c), "aria-label": `Nguồn ${number}: ${c.title}` },
          `[${number}]`));
      }
      text.append(span, " ");
    }
    const section = el("section", { class: "bubble answer", "aria-label": "Câu trả lời" },
      el("p", { class: "speaker" }, "hoidap"));
    if (answer.short_answer) {
      section.append(el("p", { class: "short-answer" }, el("strong", {}, answer.short_answer.text)));
    }
    section.append(text);
    if (answer.sentences.some((s) => !s.supported)) {
      section.append(el("p", { class: "unsupported-note" }, el("span", { class: "flag", "aria-hidden": "true" }, "?"),
        " Câu có dấu này chưa được nguồn trích dẫn xác nhận; hãy kiểm tra lại."));
    }
    if (answer.citations.length) {
      section.append(el("p", { class: "sources-title" }, "Nguồn"));
      section.append(el("ol", { class: "sources" }, ...answer.citations.map((c) => el("li", {},
        el("a", sourceAttrs("source-link", c), el("span", { class: "num" }, `[${c.number}]`), " ", ...titleOf(c)),
        dateOf(c),
        el("blockquote", { class: "quote" }, c.quote)))));
    }
    parts.push(section);
  }
  if (answer.timings.total !== undefined) {
    parts.push(el("p", { class: "answer-meta" }, `Trả lời trong ${seconds(answer.timings.total)} giây`));
  }
  return parts;
}

function renderFeedback(messageId) {
  const rate = (value, iconClass, label) => el("button", {
    type: "submit", class: "button ghost rate", name: "rating", value, "aria-pressed": "false",
  }, el("img", { class: iconClass, src: "/static/thumb.svg", alt: "" }), " " + label);
  const commentId = `comment-${messageId}`;
  return el("form", { class: "feedback", method: "post", action: "/feedback", "aria-label": "Đánh giá câu trả lời" },
    el("input", { type: "hidden", name: "message_id", value: messageId }),
    el("span", { class: "feedback-row" },
      el("span", { class: "feedback-label" }, "Câu trả lời này có hữu ích không?"),
      rate("up", "thumb", "Hữu ích"), " ", rate("down", "thumb down", "Chưa tốt")),
    el("details", { class: "comment" },
      el("summary", {}, "Thêm nhận xét"),
      el("label", { for: commentId, class: "visually-hidden" }, "Nhận xét (không bắt buộc)"),
      el("textarea", { id: commentId, name: "comment", rows: "2", maxlength: "2000",
        placeholder: "Nhận xét (không bắt buộc)" }),
      el("p", { class: "comment-hint" }, "Bấm “Hữu ích” hoặc “Chưa tốt” để gửi kèm nhận xét.")),
    el("p", { class: "feedback-status", role: "status" }));
}

// ----- asking -----

async function* serverSentEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      yield { name, data: JSON.parse(data.join("\n")) };
    }
  }
}

function failTurn(turn, message, retry) {
  const section = el("section", { class: "bubble answer failed", role: "alert" },
    el("p", { class: "speaker" }, "hoidap"), el("p", {}, message));
  if (retry) {
    const button = el("button", { type: "button", class: "button ghost retry" }, "Thử lại");
    button.addEventListener("click", retry);
    section.append(button);
  }
  turn.querySelector(".answer").replaceWith(section);
  return section;
}

function rememberConversation(id, title) {
  document.getElementById("conversation-id").value = id;
  const url = `/c/${encodeURIComponent(id)}`;
  if (window.location.pathname !== url) window.history.replaceState(null, "", url);
  const list = document.getElementById("history-list");
  if (!list) return;
  const known = list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
  const item = { id, title: known?.querySelector("a").title ?? title, url, updated_at: Date.now() / 1000 };
  known?.remove();  // a follow-up moves its conversation to the top, as the server orders them
  list.querySelector(".empty")?.remove();
  list.prepend(renderConversation(item, true));
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function pendingTurn(question) {
  return el("article", { class: "turn", "aria-label": "Lượt hỏi đáp", "aria-busy": "true" },
    el("div", { class: "bubble question" }, el("p", { class: "speaker" }, "Bạn hỏi"),
      el("p", { class: "question-text" }, question)),
    el("section", { class: "bubble answer pending", "aria-label": "Câu trả lời" },
      el("p", { class: "speaker" }, "hoidap"), el("p", { class: "answer-text" }),
      el("p", { class: "typing" }, el("span", { class: "dots", "aria-hidden": "true" }),
        el("span", { class: "typing-text" }, " Đang tìm câu trả lời…"))));
}

// Asks in ``turn``; resolves to whether it got an answer. ``retry(turn)`` asks again.
async function ask(form, question, turn, retry) {
  const turns = document.getElementById("turns");
  document.getElementById("welcome")?.remove();
  if (!turn.isConnected) turns.append(turn);
  turn.scrollIntoView({ block: "end", behavior: "smooth" });
  announce("Đang tìm câu trả lời…");

  const controller = new AbortController();
  const answerText = turn.querySelector(".answer-text");
  // only an answerer that writes piece by piece is said to be writing, and can be stopped
  const streams = form.dataset.streams === "true";
  if (streams) {
    const stop = el("button", { type: "button", class: "button ghost stop" }, "Dừng trả lời");
    stop.addEventListener("click", () => controller.abort());
    turn.querySelector(".answer").append(stop);
  }
  const conversationId = form.elements.conversation_id.value || null;
  try {
    const response = await fetch("/api/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question, conversation_id: conversationId }),
      signal: controller.signal,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new HttpError(response.status, body?.error?.message || `Lỗi ${response.status}.`);
    }
    let answered = false;
    for await (const event of serverSentEvents(response)) {
      if (event.name === "delta") {
        answerText.append(event.data.text);
        if (streams && !answerText.classList.contains("streaming")) {
          answerText.classList.add("streaming");
          turn.querySelector(".typing-text").textContent = " Đang viết câu trả lời…";
        }
      } else if (event.name === "answer") {
        const answer = event.data;
        answered = true;
        turn.id = `m-${answer.message_id}`;
        turn.querySelector(".answer").replaceWith(...renderAnswer(answer));
        turn.append(renderFeedback(answer.message_id));
        setUpAnswers(turn);
        rememberConversation(answer.conversation_id, question);
        announce(answer.refused ? "Không tìm thấy câu trả lời." : "Đã có câu trả lời.");
      } else if (event.name === "error") {
        throw new HttpError(event.data.error.code, event.data.error.message);
      }
    }
    if (!answered) throw new Error("Kết nối bị ngắt trước khi có câu trả lời.");
    return true;
  } catch (error) {
    const again = () => retry(turn);
    if (error.name === "AbortError") {
      const partial = answerText.textContent;
      const section = failTurn(turn, "Đã dừng; câu trả lời này không được lưu.", again);
      section.classList.add("stopped");
      section.removeAttribute("role");
      if (partial) section.insertBefore(el("p", { class: "answer-text" }, partial), section.children[1]);
      announce("Đã dừng trả lời.");
      return false;
    }
    // a request the server refused as it is (422) cannot succeed by sending it again
    const retryable = !(error instanceof HttpError) || error.status >= 500;
    const message = error instanceof TypeError
      ? "Không kết nối được với máy chủ. Câu hỏi vẫn còn trong ô, hãy thử lại."
      : error.message + (retryable ? " Hãy thử lại." : "");
    failTurn(turn, message, retryable ? again : null);
    announce(message);
    return false;
  } finally {
    turn.removeAttribute("aria-busy");
  }
}

function resetTurn(turn) {
  const fresh = pendingTurn(turn.querySelector(".question-text").textContent);
  turn.replaceWith(fresh);
  return fresh;
}

function setUpAskForm() {
  const form = document.getElementById("ask-form");
  if (!form) return;
  const box = form.elements.question;
  const button = document.getElementById("ask-button");
  const error = document.getElementById("question-error");
  const count = document.getElementById("question-count");
  const limit = Number(form.dataset.maxChars);

  const showError = (message) => {
    error.textContent = message;
    error.hidden = !message;
    box.setAttribute("aria-invalid", message ? "true" : "false");
  };
  const showCount = () => {
    const length = box.value.trim().length;
    count.textContent = length ? `${length}/${limit}` : "";
    count.classList.toggle("over", length > limit);
    return length;
  };
  box.addEventListener("input", () => {
    if (showCount() <= limit) showError("");
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  // one question in flight at a time: a second Enter while it is asked does nothing
  let asking = false;
  let lastSent = -Infinity;
  const send = async (question, turn) => {
    asking = true;
    button.disabled = true;
    try {
      const retry = (failed) => {
        if (!asking) send(question, resetTurn(failed));
      };
      const answered = await ask(form, question, turn, retry);
      // what was asked stays in the box until it is answered, unless something new was typed
      if (!answered && !box.value.trim()) box.value = question;
      if (answered && box.value.trim() === question) box.value = "";
    } finally {
      asking = false;
      showCount();
      button.disabled = false;
      // on a phone, focusing would open the keyboard over the answer
      if (WIDE.matches) box.focus();
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (asking) return;
    const starter = event.submitter?.name === "starter" ? event.submitter.value : null;
    const question = (starter ?? box.value).trim();
    // an Enter pressed twice sends the question, then finds the box it emptied
    if (!question && performance.now() - lastSent < 1000) return;
    if (!question) return showError("Câu hỏi trống. Hãy nhập một câu hỏi.");
    if (question.length > limit) {
      return showError(`Câu hỏi quá dài (${question.length} ký tự; tối đa ${limit} ký tự).`);
    }
    showError("");
    if (!starter) box.value = "";
    showCount();
    lastSent = performance.now();
    send(question, pendingTurn(question));
  });
}

// ----- answers: copying with their sources, a preview of each citation's quote -----

function copyText(answer) {
  const lines = [];
  const text = answer.querySelector(".answer-text").cloneNode(true);
  for (const hidden of text.querySelectorAll(".flag, .visually-hidden")) hidden.remove();
  const short = answer.querySelector(".short-answer");
  if (short) lines.push(short.textContent.trim(), "");
  lines.push(text.textContent.replace(/\s+/g, " ").trim());
  const sources = answer.querySelectorAll(".sources li");
  if (sources.length) {
    lines.push("", "Nguồn:");
    for (const item of sources) {
      const link = item.querySelector(".source-link");
      const date = item.querySelector(".date")?.textContent;
      lines.push(`${link.textContent.trim()}${date ? ` (${date})` : ""} ${link.href}`);
      lines.push(`“${item.querySelector(".quote").textContent.trim()}”`);
    }
  }
  return lines.join("\n");
}

async function writeClipboard(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // a page served over plain http from another machine has no clipboard API
  const area = el("textarea", { class: "visually-hidden", readonly: "" });
  area.value = text;
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("copy refused");
}

function addCopyButton(answer) {
  if (answer.querySelector(".copy")) return;
  const status = el("span", { class: "copy-status", role: "status" });
  const button = el("button", { type: "button", class: "button ghost copy" }, "Sao chép kèm nguồn");
  button.addEventListener("click", async () => {
    try {
      await writeClipboard(copyText(answer));
      status.textContent = "Đã sao chép.";
    } catch {
      status.textContent = "Trình duyệt không cho sao chép; hãy chọn và sao chép bằng tay.";
    }
  });
  answer.append(el("p", { class: "answer-tools" }, button, " ", status));
}

function quoteOf(cite) {
  const number = cite.textContent.replace(/\D/g, "");
  const item = [...cite.closest(".answer").querySelectorAll(".sources li")]
    .find((li) => li.querySelector(".num")?.textContent === `[${number}]`);
  return item && {
    title: item.querySelector(".source-link").textContent.replace(/^\[\d+\]\s*/, ""),
    quote: item.querySelector(".quote").textContent,
  };
}

function showPreview(cite) {
  const found = quoteOf(cite);
  if (!found) return;
  let preview = document.getElementById("cite-preview");
  if (!preview) {
    preview = el("div", { id: "cite-preview", class: "cite-preview", role: "tooltip" });
    document.body.append(preview);
  }
  preview.replaceChildren(el("p", { class: "preview-title" }, found.title),
    el("blockquote", { class: "quote" }, found.quote));
  preview.hidden = false;
  cite.setAttribute("aria-describedby", "cite-preview");
  const box = cite.getBoundingClientRect();
  const width = Math.min(360, window.innerWidth - 16);
  preview.style.width = `${width}px`;
  preview.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - width - 8)) + window.scrollX}px`;
  preview.style.top = `${box.bottom + 6 + window.scrollY}px`;
}

function hidePreview() {
  const preview = document.getElementById("cite-preview");
  if (!preview || preview.hidden) return;
  preview.hidden = true;
  document.querySelector("[aria-describedby='cite-preview']")?.removeAttribute("aria-describedby");
}

function setUpAnswers(root = document) {
  for (const answer of root.querySelectorAll(".answer:not(.refused):not(.failed):not(.pending)")) {
    addCopyButton(answer);
  }
}

function setUpPreviews() {
  const enter = (event) => {
    const cite = event.target.closest?.("a.cite");
    if (cite) showPreview(cite);
  };
  const leave = (event) => {
    if (event.target.closest?.("a.cite")) hidePreview();
  };
  document.addEventListener("mouseover", enter);
  document.addEventListener("focusin", enter);
  document.addEventListener("mouseout", leave);
  document.addEventListener("focusout", leave);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") hidePreview();
  });
}

// ----- the list of conversations: dates, rename, delete, search -----

// what renaming, deleting or searching did, under the search box
function tellHistory(message, failed = false) {
  const status = document.getElementById("history-status");
  status.textContent = message;
  status.classList.toggle("failed", failed);
}

function when(seconds) {
  const moment = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  const time = `${pad(moment.getHours())}:${pad(moment.getMinutes())}`;
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (moment.toDateString() === today.toDateString()) return `hôm nay ${time}`;
  if (moment.toDateString() === yesterday.toDateString()) return `hôm qua ${time}`;
  return `${pad(moment.getDate())}/${pad(moment.getMonth() + 1)}/${moment.getFullYear()}`;
}

function renderConversation(item, current = false) {
  const li = el("li", { class: "conversation", "data-id": item.id },
    el("a", { href: item.url, title: item.title, "aria-current": current ? "page" : null },
      el("span", { class: "conversation-title" }, item.title),
      el("time", { class: "conversation-date", datetime: new Date(item.updated_at * 1000).toISOString() },
        when(item.updated_at))),
    el("span", { class: "conversation-actions" },
      el("button", { type: "button", class: "icon-button rename", "aria-label": `Đổi tên: ${item.title}`, title: "Đổi tên" }, "✎"),
      el("button", { type: "button", class: "icon-button delete", "aria-label": `Xoá: ${item.title}`, title: "Xoá" }, "×")));
  return li;
}

function setTitle(li, title) {
  const link = li.querySelector("a");
  link.title = title;
  link.querySelector(".conversation-title").textContent = title;
  li.querySelector(".rename").setAttribute("aria-label", `Đổi tên: ${title}`);
  li.querySelector(".delete").setAttribute("aria-label", `Xoá: ${title}`);
}

function startRename(li) {
  const link = li.querySelector("a");
  const old = link.title;
  const input = el("input", { type: "text", class: "rename-box", maxlength: "200",
    "aria-label": "Tên mới của cuộc trò chuyện" });
  input.value = old;
  link.hidden = true;
  li.querySelector(".conversation-actions").hidden = true;
  li.prepend(input);
  input.focus();
  input.select();
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    const title = input.value.trim();
    if (save && title && title !== old) {
      const response = await fetch(`/api/conversations/${encodeURIComponent(li.dataset.id)}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ title }),
      }).catch(() => null);
      if (response?.ok) {
        setTitle(li, (await response.json()).title);
        tellHistory("Đã đổi tên cuộc trò chuyện.");
      } else {
        const body = await response?.json().catch(() => null);
        tellHistory(body?.error?.message || "Chưa đổi được tên. Hãy thử lại.", true);
      }
    }
    link.hidden = false;
    li.querySelector(".conversation-actions").hidden = false;
    // focus moves before the box goes, so the row keeps the focus that shows its buttons
    li.querySelector(".rename").focus();
    input.remove();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      finish(true);
    } else if (event.key === "Escape") {
      event.stopPropagation();
      finish(false);
    }
  });
  input.addEventListener("blur", () => finish(true));
}

async function deleteConversation(li) {
  const title = li.querySelector("a").title;
  if (!window.confirm(`Xoá cuộc trò chuyện “${title}”? Không thể hoàn tác.`)) return;
  const response = await fetch(`/api/conversations/${encodeURIComponent(li.dataset.id)}`, {
    method: "DELETE",
  }).catch(() => null);
  if (!response?.ok && response?.status !== 404) {
    tellHistory("Chưa xoá được. Hãy thử lại.", true);
    return;
  }
  if (document.getElementById("conversation-id")?.value === li.dataset.id) {
    window.location.href = "/";
    return;
  }
  const next = li.nextElementSibling?.querySelector(".rename") ?? document.getElementById("history-q");
  li.remove();
  next?.focus();
  tellHistory("Đã xoá cuộc trò chuyện.");
}

function setUpHistory() {
  const list = document.getElementById("history-list");
  if (!list) return;
  for (const actions of list.querySelectorAll(".conversation-actions")) actions.hidden = false;
  list.addEventListener("click", (event) => {
    const li = event.target.closest("li.conversation");
    if (event.target.closest(".rename")) startRename(li);
    else if (event.target.closest(".delete")) deleteConversation(li);
  });
  const search = document.getElementById("history-q");
  let timer = null;
  let latest = 0;
  const filter = async () => {
    const ticket = ++latest;
    const q = search.value.trim();
    const response = await fetch(`/api/conversations?q=${encodeURIComponent(q)}`).catch(() => null);
    if (ticket !== latest || !response?.ok) return;
    const found = await response.json();
    const current = document.getElementById("conversation-id")?.value;
    list.replaceChildren(...(found.length
      ? found.map((item) => renderConversation(item, item.id === current))
      : [el("li", { class: "empty" }, q ? "Không có cuộc trò chuyện nào khớp." : "Chưa có cuộc trò chuyện nào.")]));
    tellHistory(q ? `${found.length} cuộc trò chuyện khớp.` : "");
  };
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(filter, 200);
  });
  search.form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    filter();
  });
}

// ----- the article beside the chat -----

let returnFocusTo = null;

async function openInReader(link) {
  const reader = document.getElementById("reader");
  const start = Number(link.dataset.start);
  const end = Number(link.dataset.end);
  const response = await fetch(`/api/articles/${encodeURIComponent(link.dataset.article)}`);
  if (!response.ok) {
    window.location.href = link.href;
    return;
  }
  const article = await response.json();
  document.getElementById("reader-title").replaceChildren(...titleOf(article));
  document.getElementById("reader-meta").replaceChildren(
    ...[dateOf(article), article.source].filter(Boolean).flatMap((part, i) => (i ? [" · ", part] : [part])));
  document.getElementById("reader-open").href = link.href;
  const mark = el("mark", { id: "reader-cited", tabindex: "-1" });
  if (link.dataset.answerStart !== undefined) {
    const a = Number(link.dataset.answerStart);
    const b = Number(link.dataset.answerEnd);
    mark.append(article.text.slice(start, a), el("strong", { class: "answer-span" }, article.text.slice(a, b)),
      article.text.slice(b, end));
  } else {
    mark.append(article.text.slice(start, end));
  }
  document.getElementById("reader-text").replaceChildren(
    article.text.slice(0, start), mark, article.text.slice(end));
  reader.hidden = false;
  document.getElementById("chat-layout").classList.add("reading");
  for (const active of document.querySelectorAll(".cite.active, .source-link.active")) {
    active.classList.remove("active");
  }
  link.classList.add("active");
  returnFocusTo = link;
  mark.scrollIntoView({ block: "center" });
  mark.focus({ preventScroll: true });
}

function closeReader() {
  const reader = document.getElementById("reader");
  if (!reader || reader.hidden) return;
  reader.hidden = true;
  document.getElementById("chat-layout").classList.remove("reading");
  returnFocusTo?.focus();
}

function setUpReader() {
  if (!document.getElementById("reader")) return;
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.cite, a.source-link");
    if (!link || !WIDE.matches || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    openInReader(link);
  });
  document.getElementById("reader-close").addEventListener("click", closeReader);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeReader();
  });
  WIDE.addEventListener("change", () => {
    if (!WIDE.matches) closeReader();
  });
}

// ----- feedback -----

function setUpFeedback() {
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.feedback");
    if (!form) return;
    event.preventDefault();
    const rating = event.submitter?.value;
    const status = form.querySelector(".feedback-status");
    if (rating !== "up" && rating !== "down") {
      status.textContent = "Hãy chọn “Hữu ích” hoặc “Chưa tốt”.";
      return;
    }
    const response = await fetch("/api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        message_id: form.elements.message_id.value,
        rating,
        comment: form.elements.comment.value,
      }),
    }).catch(() => null);
    if (!response?.ok) {
      status.textContent = "Chưa gửi được đánh giá. Hãy thử lại.";
      return;
    }
    for (const button of form.querySelectorAll("button.rate")) {
      button.setAttribute("aria-pressed", String(button.value === rating));
    }
    status.textContent = "Cảm ơn bạn đã đánh giá!";
  });
}

// ----- the article page: bring the cited span into view -----

function showCitedSpan() {
  const mark = document.querySelector(".article-page mark#cited");
  if (!mark) return;
  mark.scrollIntoView({ block: "center" });
  mark.focus({ preventScroll: true });
}

// the list of past chats starts folded on a phone, so the conversation comes first
function foldHistoryOnPhones() {
  const toggle = document.getElementById("history-toggle");
  if (toggle && !WIDE.matches) toggle.open = false;
}

// ----- the admin page: follow a re-index until it is done -----

function followReindex() {
  const box = document.getElementById("reindex-status");
  if (!box || box.dataset.state !== "running") return;
  const bar = document.getElementById("reindex-progress");
  const message = document.getElementById("reindex-message");
  const poll = async () => {
    let job;
    try {
      const response = await fetch("/api/admin/reindex", { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      job = await response.json();
    } catch {
      message.textContent = "Mất kết nối với máy chủ; đang thử lại…";
      window.setTimeout(poll, 2000);
      return;
    }
    bar.value = job.percent;
    bar.textContent = `${job.percent}%`;
    box.dataset.state = job.state;
    if (job.state === "running") {
      message.textContent = `Đang lập chỉ mục… ${job.percent}%`;
      window.setTimeout(poll, 500);
    } else {
      message.textContent = job.message;
      document.querySelector(".reindex-form button")?.removeAttribute("disabled");
    }
  };
  poll();
}

foldHistoryOnPhones();
setUpHistory();
followReindex();
setUpAskForm();
setUpAnswers();
setUpPreviews();
setUpReader();
setUpFeedback();
showCitedSpan();
