/* On-site personalisation: banner impressions and pop-up triggers.
 *
 * Loaded by {% omnichannel_scripts %}, which also loads the vendored htmx. No build
 * step: plain ES2017 that current browsers run as it is.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var eventsUrl = script && script.getAttribute("data-events-url");
  var reported = new Set();

  function send(payload) {
    if (!eventsUrl) {
      return;
    }
    var body = JSON.stringify(payload);
    var blob = new Blob([body], { type: "application/json" });
    if (navigator.sendBeacon && navigator.sendBeacon(eventsUrl, blob)) {
      return;
    }
    fetch(eventsUrl, {
      method: "POST",
      body: body,
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      keepalive: true,
    }).catch(function () {});
  }

  function reportBanners(root) {
    var ids = [];
    root.querySelectorAll("[data-omnichannel-banner]").forEach(function (element) {
      var id = element.getAttribute("data-omnichannel-banner");
      if (id && !reported.has(id)) {
        reported.add(id);
        ids.push(Number(id));
      }
    });
    if (ids.length) {
      send({ banners: ids });
    }
  }

  function storageKey(key) {
    return "omnichannel-popup-" + key;
  }

  function timesShown(key) {
    try {
      return Number(window.localStorage.getItem(storageKey(key)) || 0);
    } catch (error) {
      return 0;
    }
  }

  function remember(key, shows) {
    try {
      window.localStorage.setItem(storageKey(key), String(shows));
    } catch (error) {
      /* Private browsing may refuse storage; the pop-up still works. */
    }
  }

  function dismissedThisSession(key) {
    try {
      return window.sessionStorage.getItem(storageKey(key)) === "closed";
    } catch (error) {
      return false;
    }
  }

  function show(popup) {
    var key = popup.getAttribute("data-omnichannel-popup");
    if (!popup.hidden) {
      return;
    }
    popup.hidden = false;
    remember(key, timesShown(key) + 1);
    send({ popup: key });
  }

  function close(popup) {
    var key = popup.getAttribute("data-omnichannel-popup");
    popup.hidden = true;
    try {
      window.sessionStorage.setItem(storageKey(key), "closed");
    } catch (error) {
      /* See remember(). */
    }
  }

  function arm(popup) {
    var key = popup.getAttribute("data-omnichannel-popup");
    var limit = Number(popup.getAttribute("data-max-shows") || 1);
    if (timesShown(key) >= limit || dismissedThisSession(key)) {
      return;
    }
    popup.querySelectorAll("[data-omnichannel-close]").forEach(function (button) {
      button.addEventListener("click", function () {
        close(popup);
      });
    });
    var trigger = popup.getAttribute("data-trigger");
    if (trigger === "return") {
      show(popup);
    } else if (trigger === "delay") {
      var seconds = Number(popup.getAttribute("data-delay") || 0);
      window.setTimeout(function () {
        show(popup);
      }, seconds * 1000);
    } else if (trigger === "exit_intent") {
      document.addEventListener("mouseout", function onLeave(event) {
        if (!event.relatedTarget && event.clientY <= 0) {
          document.removeEventListener("mouseout", onLeave);
          show(popup);
        }
      });
    }
  }

  function start() {
    reportBanners(document);
    document.querySelectorAll("[data-omnichannel-popup]").forEach(arm);
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    reportBanners(event.target);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
