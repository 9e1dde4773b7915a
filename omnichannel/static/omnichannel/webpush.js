// Subscribe this browser to web push and register it with the shop.
// Usage: omnichannelWebPush.subscribe("/omnichannel/") after a user gesture.
(function () {
  function keyBytes(base64url) {
    const padding = "=".repeat((4 - (base64url.length % 4)) % 4);
    const base64 = (base64url + padding).replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(base64);
    return Uint8Array.from(raw, (char) => char.charCodeAt(0));
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function subscribe(prefix) {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
      return null;
    }
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      return null;
    }
    const registration = await navigator.serviceWorker.register(
      prefix + "webpush/sw.js",
      { scope: "/" }
    );
    const keyResponse = await fetch(prefix + "webpush/key/");
    const { public_key: publicKey } = await keyResponse.json();
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(publicKey),
    });
    await fetch(prefix + "webpush/subscription/", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(subscription.toJSON()),
    });
    return subscription;
  }

  window.omnichannelWebPush = { subscribe: subscribe };
})();
