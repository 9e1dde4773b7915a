/*
 * The chat widget of django-omnichannel. Plain JavaScript with no build step and no
 * dependencies; the {% omnichannel_chat_widget %} tag loads it and passes its
 * settings in data-* attributes of the script element.
 *
 * Message text is only ever put on the page with textContent, never as HTML, so a
 * message that contains markup shows as text.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.omnichannelChat) {
    return;
  }

  var labels = {
    open: "Chat",
    close: "Close the chat",
    input: "Your message",
    placeholder: "Write a message…",
    send: "Send",
    you: "You",
    agent: "Support team",
    bot: "Assistant",
    restart: "Start a new conversation",
    closed: "This conversation is closed.",
    empty: "Write a message first.",
    tooLong: "The message is too long.",
    throttled: "You are sending messages too fast. Try again in a moment.",
    failed: "The message could not be sent. Check your connection and try again.",
    expired: "This conversation is no longer available in this browser."
  };
  try {
    var given = JSON.parse(script.getAttribute("data-labels") || "{}");
    Object.keys(given).forEach(function (key) {
      labels[key] = String(given[key]);
    });
  } catch (error) {
    // Keep the English labels when the attribute is not valid JSON.
  }

  var config = {
    api: script.getAttribute("data-api"),
    title: script.getAttribute("data-title") || labels.open,
    greeting: script.getAttribute("data-greeting") || "",
    maxLength: parseInt(script.getAttribute("data-max-length"), 10) || 2000,
    pollMs: (parseInt(script.getAttribute("data-poll-seconds"), 10) || 3) * 1000,
    transport: script.getAttribute("data-transport") || "auto"
  };
  var storageKey = "omnichannel-chat:" + config.api;
  var MAX_STREAM_FAILURES = 3;

  var state = {
    id: null,
    token: null,
    lastId: 0,
    closed: false,
    seen: {},
    source: null,
    pollTimer: null,
    streamFailures: 0,
    sending: false,
    unread: 0
  };

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  // The page elements.
  var root = element("div", "omni-chat");
  var launcher = element("button", "omni-chat-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.appendChild(element("span", "omni-chat-launcher-label", config.title));
  var badge = element("span", "omni-chat-badge");
  badge.hidden = true;
  launcher.appendChild(badge);

  var panel = element("section", "omni-chat-panel");
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", config.title);

  var header = element("header", "omni-chat-header");
  header.appendChild(element("h2", "omni-chat-title", config.title));
  var closeButton = element("button", "omni-chat-close", "\u00d7");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", labels.close);
  header.appendChild(closeButton);

  var list = element("ol", "omni-chat-messages");
  list.setAttribute("aria-live", "polite");
  if (config.greeting) {
    list.appendChild(renderMessage({ author: "bot", author_name: "", body: config.greeting }));
  }

  var status = element("p", "omni-chat-status");
  status.setAttribute("role", "status");

  var form = element("form", "omni-chat-form");
  var textarea = element("textarea", "omni-chat-input");
  textarea.rows = 2;
  textarea.maxLength = config.maxLength;
  textarea.placeholder = labels.placeholder;
  textarea.setAttribute("aria-label", labels.input);
  var counter = element("span", "omni-chat-counter");
  var sendButton = element("button", "omni-chat-send", labels.send);
  sendButton.type = "submit";
  form.appendChild(textarea);
  form.appendChild(counter);
  form.appendChild(sendButton);

  var restartButton = element("button", "omni-chat-restart", labels.restart);
  restartButton.type = "button";
  restartButton.hidden = true;

  panel.appendChild(header);
  panel.appendChild(list);
  panel.appendChild(status);
  panel.appendChild(form);
  panel.appendChild(restartButton);
  root.appendChild(panel);
  root.appendChild(launcher);

  // Rendering.
  function authorLabel(message) {
    if (message.author === "customer") {
      return labels.you;
    }
    if (message.author === "agent") {
      return message.author_name || labels.agent;
    }
    if (message.author === "bot") {
      return message.author_name || labels.bot;
    }
    return "";
  }

  function renderMessage(message) {
    var item = element("li", "omni-chat-message omni-chat-" + message.author);
    if (message.id) {
      item.setAttribute("data-message-id", String(message.id));
    }
    var label = authorLabel(message);
    if (label) {
      item.appendChild(element("span", "omni-chat-author", label));
    }
    item.appendChild(element("div", "omni-chat-body", message.body));
    if (message.created_at) {
      var time = element("time", "omni-chat-time");
      var date = new Date(message.created_at);
      time.dateTime = message.created_at;
      time.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      item.appendChild(time);
    }
    return item;
  }

  function addMessage(message) {
    if (!message || !message.id || state.seen[message.id]) {
      return;
    }
    state.seen[message.id] = true;
    state.lastId = Math.max(state.lastId, message.id);
    list.appendChild(renderMessage(message));
    list.scrollTop = list.scrollHeight;
    if (panel.hidden && message.author !== "customer") {
      state.unread += 1;
      badge.textContent = String(state.unread);
      badge.hidden = false;
    }
  }

  function showStatus(text) {
    status.textContent = text || "";
  }

  function updateCounter() {
    var length = textarea.value.length;
    counter.textContent = length > config.maxLength * 0.8 ? length + " / " + config.maxLength : "";
  }

  // Storage of the conversation id and token for this browser.
  function remember() {
    try {
      window.localStorage.setItem(storageKey, JSON.stringify({ id: state.id, token: state.token }));
    } catch (error) {
      // Private modes may reject storage, and then the chat lasts as long as the page.
    }
  }

  function recall() {
    try {
      var stored = JSON.parse(window.localStorage.getItem(storageKey) || "null");
      if (stored && stored.id && stored.token) {
        return stored;
      }
    } catch (error) {
      return null;
    }
    return null;
  }

  function forget() {
    stopLive();
    try {
      window.localStorage.removeItem(storageKey);
    } catch (error) {
      // Nothing stored.
    }
    state.id = null;
    state.token = null;
    state.lastId = 0;
    state.closed = false;
    state.seen = {};
    Array.prototype.slice.call(list.querySelectorAll("[data-message-id]")).forEach(function (node) {
      node.parentNode.removeChild(node);
    });
    form.hidden = false;
    restartButton.hidden = true;
  }

  // Requests to the chat API.
  function request(method, path, body) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (state.token) {
      headers.Authorization = "Bearer " + state.token;
    }
    return fetch(config.api + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin"
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (error) {
          data = null;
        }
        if (!response.ok) {
          var failure = new Error((data && data.detail) || "HTTP " + response.status);
          failure.status = response.status;
          failure.data = data;
          failure.retryAfter = parseInt(response.headers.get("Retry-After"), 10) || 0;
          throw failure;
        }
        return data;
      });
    });
  }

  function describe(failure) {
    if (failure.status === 429) {
      return labels.throttled;
    }
    var data = failure.data;
    if (data && data.errors) {
      var fields = Object.keys(data.errors);
      if (fields.length && data.errors[fields[0]].length) {
        return String(data.errors[fields[0]][0]);
      }
    }
    if (data && data.detail) {
      return String(data.detail);
    }
    return labels.failed;
  }

  function isLost(failure) {
    return failure.status === 401 || failure.status === 403 || failure.status === 404;
  }

  // Live updates: server-sent events, or polling.
  function stopLive() {
    if (state.source) {
      state.source.close();
      state.source = null;
    }
    if (state.pollTimer) {
      window.clearTimeout(state.pollTimer);
      state.pollTimer = null;
    }
  }

  function startLive() {
    stopLive();
    if (!state.id || state.closed) {
      return;
    }
    if (config.transport !== "poll" && window.EventSource) {
      openStream();
    } else {
      schedulePoll(config.pollMs);
    }
  }

  function openStream() {
    var url = config.api + encodeURIComponent(state.id) + "/events/?token=" +
      encodeURIComponent(state.token) + "&after=" + state.lastId;
    var source = new EventSource(url);
    state.source = source;
    source.addEventListener("open", function () {
      state.streamFailures = 0;
    });
    source.addEventListener("message", function (event) {
      try {
        addMessage(JSON.parse(event.data));
      } catch (error) {
        // A malformed event is skipped; the next poll or reconnection fills gaps.
      }
    });
    source.addEventListener("closed", function () {
      markClosed();
    });
    source.addEventListener("error", function () {
      state.streamFailures += 1;
      var gaveUp = source.readyState === EventSource.CLOSED;
      if (gaveUp || state.streamFailures >= MAX_STREAM_FAILURES) {
        source.close();
        state.source = null;
        if (config.transport === "sse" && !gaveUp) {
          window.setTimeout(openStream, config.pollMs);
        } else {
          schedulePoll(0);
        }
      }
    });
  }

  function schedulePoll(delay) {
    if (state.pollTimer) {
      window.clearTimeout(state.pollTimer);
    }
    state.pollTimer = window.setTimeout(poll, delay);
  }

  function poll() {
    state.pollTimer = null;
    if (!state.id || state.closed) {
      return;
    }
    request("GET", encodeURIComponent(state.id) + "/messages/?after=" + state.lastId)
      .then(function (data) {
        data.messages.forEach(addMessage);
        if (data.conversation.status === "closed") {
          markClosed();
        } else {
          schedulePoll(data.has_more ? 0 : config.pollMs);
        }
      })
      .catch(function (failure) {
        if (isLost(failure)) {
          forget();
          showStatus(labels.expired);
          return;
        }
        schedulePoll(Math.max(config.pollMs, failure.retryAfter * 1000) * 2);
      });
  }

  function markClosed() {
    state.closed = true;
    stopLive();
    form.hidden = true;
    restartButton.hidden = false;
    showStatus(labels.closed);
  }

  // Sending.
  function send(event) {
    event.preventDefault();
    var text = textarea.value;
    if (!text.trim()) {
      showStatus(labels.empty);
      return;
    }
    if (text.length > config.maxLength) {
      showStatus(labels.tooLong);
      return;
    }
    if (state.sending) {
      return;
    }
    state.sending = true;
    sendButton.disabled = true;
    showStatus("");

    var sent = state.id
      ? request("POST", encodeURIComponent(state.id) + "/messages/", { body: text }).then(addMessage)
      : request("POST", "", { message: text }).then(function (data) {
          state.id = data.conversation.id;
          state.token = data.token;
          remember();
          data.messages.forEach(addMessage);
          startLive();
        });

    sent
      .then(function () {
        textarea.value = "";
        updateCounter();
        if (!state.source) {
          schedulePoll(500);
        }
      })
      .catch(function (failure) {
        if (failure.status === 409) {
          markClosed();
          return;
        }
        if (state.id && isLost(failure)) {
          forget();
          showStatus(labels.expired);
          return;
        }
        showStatus(describe(failure));
      })
      .then(function () {
        state.sending = false;
        sendButton.disabled = false;
      });
  }

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      state.unread = 0;
      badge.hidden = true;
      textarea.focus();
      list.scrollTop = list.scrollHeight;
    }
  }

  launcher.addEventListener("click", function () {
    setOpen(panel.hidden);
  });
  closeButton.addEventListener("click", function () {
    setOpen(false);
    launcher.focus();
  });
  form.addEventListener("submit", send);
  textarea.addEventListener("input", updateCounter);
  textarea.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      send(event);
    }
  });
  restartButton.addEventListener("click", function () {
    forget();
    showStatus("");
    textarea.focus();
  });

  function start() {
    document.body.appendChild(root);
    var stored = recall();
    if (!stored) {
      return;
    }
    state.id = stored.id;
    state.token = stored.token;
    request("GET", encodeURIComponent(state.id) + "/messages/?after=0")
      .then(function (data) {
        data.messages.forEach(addMessage);
        // Messages of an earlier visit are not new.
        state.unread = 0;
        badge.hidden = true;
        if (data.conversation.status === "closed") {
          markClosed();
        } else {
          startLive();
        }
      })
      .catch(function (failure) {
        if (isLost(failure)) {
          forget();
        }
      });
  }

  window.omnichannelChat = { open: function () { setOpen(true); }, close: function () { setOpen(false); } };
  if (document.body) {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
