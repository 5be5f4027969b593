// Browser call: WebRTC to the server (pipecat SmallWebRTC), live transcript from the data channel.
(function () {
  "use strict";
  const page = document.getElementById("call-page");
  const T = JSON.parse(page.dataset.texts);
  const iceServers = JSON.parse(page.dataset.iceServers || "[]");
  const $ = (id) => document.getElementById(id);
  let pc = null, stream = null, pinger = null;

  function status(text) { $("status").textContent = text; }

  function line(role, text) {
    const li = document.createElement("li");
    li.className = role;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = (role === "caller" ? T.you : T.bot) + ":";
    li.append(who, document.createTextNode(" " + text));
    $("transcript").append(li);
  }

  function outcome(kind, detail) {
    const li = document.createElement("li");
    li.dataset.outcome = kind;
    li.textContent = T[kind] + (detail ? " " + detail : "");
    $("outcome").append(li);
  }

  function onEvent(ev) {
    if (ev.type === "caller") {
      line("caller", ev.dtmf ? T.keypad + " " + ev.dtmf : ev.text);
    } else if (ev.type === "bot") {
      if (ev.text) line("bot", ev.text);
      if (ev.outcome === "answer") outcome("answer", ev.entry_question ? "(" + ev.entry_question + ")" : "");
      else if (ev.outcome === "message" || ev.outcome === "goodbye") outcome(ev.outcome, "");
    } else if (ev.type === "transfer") {
      outcome("transfer", (ev.name ? ev.name + " " : "") + "(" + ev.number + ") – " + T.transfer_note);
    }
  }

  async function waitForIce(conn) {
    if (conn.iceGatheringState === "complete") return;
    await new Promise((resolve) => {
      const check = () => { if (conn.iceGatheringState === "complete") resolve(); };
      conn.addEventListener("icegatheringstatechange", check);
      setTimeout(resolve, 3000);  // use what has been gathered; host candidates come first
    });
  }

  async function call() {
    $("call").disabled = true;
    $("transcript").replaceChildren();
    $("outcome").replaceChildren();
    status(T.connecting);
    try {
      // The browser's voice processing garbles the first words for the recogniser: turn it all off.
      stream = await navigator.mediaDevices.getUserMedia({ audio: {
        echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    } catch (err) {
      status(T.nomic);
      $("call").disabled = false;
      return;
    }
    pc = new RTCPeerConnection({ iceServers });
    const channel = pc.createDataChannel("chat", { ordered: true });
    channel.onopen = () => { pinger = setInterval(() => channel.readyState === "open" && channel.send("ping: " + Date.now()), 1000); };
    channel.onmessage = (msg) => {
      try {
        const data = JSON.parse(msg.data);
        if (data.type === "receptionist" && data.event) onEvent(data.event);
      } catch (err) { /* pipecat's own messages are not ours */ }
    };
    pc.addTransceiver(stream.getAudioTracks()[0], { direction: "sendrecv" });
    pc.ontrack = (e) => { $("bot-audio").srcObject = e.streams[0] || new MediaStream([e.track]); };
    pc.onconnectionstatechange = () => {
      if (!pc) return;
      const state = pc.connectionState;
      if (state === "connected") status(T.connected);
      else if (state === "failed") { status(T.failed); hangup(); }
      else if (state === "closed" || state === "disconnected") hangup();  // the bot ended the call
    };
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIce(pc);
    const response = await fetch("/call/offer", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type, company: $("company").value }) });
    if (!response.ok) {
      status(T.failed + ": " + ((await response.json()).detail || response.status));
      hangup();
      return;
    }
    const answer = await response.json();
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
    $("hangup").disabled = false;
  }

  function hangup() {
    if (pinger) clearInterval(pinger);
    pinger = null;
    if (pc) pc.close();
    pc = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    $("hangup").disabled = true;
    $("call").disabled = page.dataset.ready !== "yes";
    if ($("status").textContent !== T.failed) status(T.ended);
  }

  $("call").addEventListener("click", () => call().catch((err) => { status(T.failed + ": " + err); hangup(); }));
  $("hangup").addEventListener("click", hangup);
  window.addEventListener("beforeunload", hangup);
  window.receptionistHangup = hangup;  // tests close the peer connection before closing the browser
})();
