// One JsSIP user agent per page, driven by jssip-driver.mjs through window.phone.
// Every call records what happened in window.phone.events, so the driver can wait for an event
// (bounded) and report it; nothing here waits by itself.
'use strict';

(() => {
  const events = [];
  const sessions = new Map(); // call id (JsSIP's session id) -> RTCSession
  let ua = null;
  let autoAnswer = false;

  // The node carries no media: a peer connection with relay-only ICE and no TURN server gathers
  // no candidate at all, so Chromium never sends a packet (and JsSIP's wait for ICE gathering
  // ends at once, when gathering completes empty).
  const pcConfig = { iceServers: [], iceTransportPolicy: 'relay' };
  const mediaConstraints = { audio: true, video: false };

  function record(type, detail) {
    events.push(Object.assign({ type, at: Date.now() }, detail || {}));
  }

  function watch(session, direction) {
    const id = session.id;
    sessions.set(id, session);
    record('session', { id, direction, remote: session.remote_identity.uri.toString() });
    session.on('progress', (e) => record('progress', { id, status: e.response ? e.response.status_code : null }));
    session.on('accepted', () => record('accepted', { id }));
    session.on('confirmed', () => record('confirmed', { id }));
    // the SDP as sent (JsSIP emits it after ICE gathering): with relay-only ICE and no TURN
    // server it must carry no candidate, i.e. Chromium has no address to send media from
    session.on('sdp', (e) => {
      if (e.originator === 'local') {
        record('localSdp', { id, sdpType: e.type, candidates: (e.sdp.match(/^a=candidate:/gm) || []).length });
      }
    });
    session.on('hold', (e) => record('hold', { id, originator: e.originator }));
    session.on('unhold', (e) => record('unhold', { id, originator: e.originator }));
    session.on('newDTMF', (e) => record('dtmf', { id, originator: e.originator, tone: e.dtmf.tone }));
    session.on('ended', (e) => record('ended', { id, originator: e.originator, cause: e.cause }));
    session.on('failed', (e) => record('failed', {
      id, originator: e.originator, cause: e.cause,
      status: e.message && e.message.status_code ? e.message.status_code : null,
    }));
  }

  window.phone = {
    events,

    start(config) {
      if (ua) throw new Error('already started');
      const socket = new JsSIP.WebSocketInterface(config.wsUrl);
      ua = new JsSIP.UA({
        sockets: [socket],
        uri: config.uri,
        password: config.password,
        register: true, // everything else on JsSIP's defaults, as a web phone would run it
      });
      ua.on('connected', () => record('connected'));
      ua.on('disconnected', (e) => record('disconnected', { code: e.code, reason: e.reason }));
      ua.on('registered', (e) => record('registered', { expires: e.response.getHeader('Expires'), contact: ua.contact.toString() }));
      ua.on('unregistered', () => record('unregistered'));
      ua.on('registrationFailed', (e) => record('registrationFailed', {
        cause: e.cause, status: e.response ? e.response.status_code : null,
      }));
      ua.on('newRTCSession', (e) => {
        if (e.originator !== 'remote') return;
        watch(e.session, 'incoming');
        if (autoAnswer) {
          e.session.answer({ mediaConstraints, pcConfig });
        }
      });
      ua.start();
    },

    answerCalls(enabled) {
      autoAnswer = enabled;
    },

    call(target) {
      const session = ua.call(target, { mediaConstraints, pcConfig });
      watch(session, 'outgoing');
      return session.id;
    },

    hangUp(id) {
      const session = sessions.get(id);
      if (!session) throw new Error('no call ' + id);
      session.terminate();
    },

    // In-dialog requests through the node: hold/unhold are re-INVITEs (RFC 3264 §8.4, a=sendonly),
    // DTMF as SIP INFO (application/dtmf-relay) is what door panels open the door with.
    hold(id) {
      return sessions.get(id).hold();
    },

    unhold(id) {
      return sessions.get(id).unhold();
    },

    sendDtmf(id, tones) {
      sessions.get(id).sendDTMF(tones, { transportType: 'INFO', duration: 100, interToneGap: 100 });
    },

    unregister() {
      ua.unregister();
    },

    stop() {
      if (ua) ua.stop();
    },
  };
})();
