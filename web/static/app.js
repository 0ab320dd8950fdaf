// hoidap: streams answers into the chat, opens cited articles beside it, sends feedback.
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
    el("span", { class: "feedback-label" }, "Câu trả lời này có hữu ích không?"),
    rate("up", "thumb", "Hữu ích"), " ", rate("down", "thumb down", "Chưa tốt"),
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

function showTurnError(turn, message) {
  turn.querySelector(".answer").replaceWith(
    el("section", { class: "bubble answer failed", role: "alert" },
      el("p", { class: "speaker" }, "hoidap"), el("p", {}, message)));
}

function rememberConversation(id, title) {
  document.getElementById("conversation-id").value = id;
  const url = `/c/${encodeURIComponent(id)}`;
  if (window.location.pathname !== url) window.history.replaceState(null, "", url);
  const list = document.getElementById("history-list");
  if (!list || list.querySelector(`a[href="${CSS.escape(url)}"]`)) return;
  list.querySelector(".empty")?.remove();
  list.prepend(el("li", {}, el("a", { href: url, "aria-current": "page" }, title)));
}

async function ask(form, question) {
  const turns = document.getElementById("turns");
  document.getElementById("welcome")?.remove();
  const answerText = el("p", { class: "answer-text streaming" });
  const turn = el("article", { class: "turn", "aria-label": "Lượt hỏi đáp", "aria-busy": "true" },
    el("div", { class: "bubble question" }, el("p", { class: "speaker" }, "Bạn hỏi"),
      el("p", { class: "question-text" }, question)),
    el("section", { class: "bubble answer pending", "aria-label": "Câu trả lời" },
      el("p", { class: "speaker" }, "hoidap"), answerText,
      el("p", { class: "typing" }, el("span", { class: "dots", "aria-hidden": "true" }), " Đang tìm câu trả lời…")));
  turns.append(turn);
  turn.scrollIntoView({ block: "end", behavior: "smooth" });
  announce("Đang tìm câu trả lời…");

  const conversationId = form.elements.conversation_id.value || null;
  try {
    const response = await fetch("/api/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question, conversation_id: conversationId }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new Error(body?.error?.message || `Lỗi ${response.status}.`);
    }
    let answered = false;
    for await (const event of serverSentEvents(response)) {
      if (event.name === "delta") {
        answerText.append(event.data.text);
      } else if (event.name === "answer") {
        const answer = event.data;
        answered = true;
        turn.id = `m-${answer.message_id}`;
        turn.querySelector(".answer").replaceWith(...renderAnswer(answer));
        turn.append(renderFeedback(answer.message_id));
        rememberConversation(answer.conversation_id, question);
        announce(answer.refused ? "Không tìm thấy câu trả lời." : "Đã có câu trả lời.");
      } else if (event.name === "error") {
        throw new Error(event.data.error.message);
      }
    }
    if (!answered) throw new Error("Kết nối bị ngắt trước khi có câu trả lời. Hãy thử lại.");
  } catch (error) {
    const message = error instanceof TypeError
      ? "Không kết nối được với máy chủ. Hãy thử lại."
      : error.message;
    showTurnError(turn, message);
    announce(message);
  } finally {
    turn.removeAttribute("aria-busy");
  }
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
  box.addEventListener("input", () => {
    const length = box.value.trim().length;
    count.textContent = length ? `${length}/${limit}` : "";
    count.classList.toggle("over", length > limit);
    if (length <= limit) showError("");
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = box.value.trim();
    if (!question) return showError("Câu hỏi trống. Hãy nhập một câu hỏi.");
    if (question.length > limit) {
      return showError(`Câu hỏi quá dài (${question.length} ký tự; tối đa ${limit} ký tự).`);
    }
    showError("");
    box.value = "";
    count.textContent = "";
    button.disabled = true;
    try {
      await ask(form, question);
    } finally {
      button.disabled = false;
      // on a phone, focusing would open the keyboard over the answer
      if (WIDE.matches) box.focus();
    }
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
followReindex();
setUpAskForm();
setUpReader();
setUpFeedback();
showCitedSpan();
