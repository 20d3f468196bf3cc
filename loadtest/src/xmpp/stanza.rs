//! The stanzas and nonzas the generator sends (RFC 7395 framing, RFC 6120
//! SASL and bind, XEP-0198 stream management, XEP-0045 multi-user chat).

use super::xml::escape;

/// Opens (or, after SASL, reopens) the stream.
pub fn open(domain: &str) -> String {
    format!(
        "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='{}' version='1.0'/>",
        escape(domain)
    )
}

/// SASL ANONYMOUS: the server picks a fresh user name.
pub fn auth_anonymous() -> String {
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>".to_string()
}

/// Binds a resource.
pub fn bind(id: &str, resource: &str) -> String {
    format!(
        "<iq xmlns='jabber:client' type='set' id='{id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{}</resource></bind></iq>",
        escape(resource)
    )
}

/// Establishes a session (RFC 3921; only when the server says it is required).
pub fn session(id: &str) -> String {
    format!(
        "<iq xmlns='jabber:client' type='set' id='{id}'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
    )
}

/// Turns stream management on (no resumption).
pub fn sm_enable() -> String {
    "<enable xmlns='urn:xmpp:sm:3'/>".to_string()
}

/// Asks the server how many stanzas it has handled.
pub fn sm_request() -> String {
    "<r xmlns='urn:xmpp:sm:3'/>".to_string()
}

/// Tells the server how many stanzas this client has handled.
pub fn sm_answer(h: u64) -> String {
    format!("<a xmlns='urn:xmpp:sm:3' h='{h}'/>")
}

/// Initial presence: the session becomes available for messages.
pub fn presence() -> String {
    "<presence xmlns='jabber:client'/>".to_string()
}

/// Joins a room as `nick`, asking for no history.
pub fn muc_join(room: &str, nick: &str) -> String {
    format!(
        "<presence xmlns='jabber:client' to='{}/{}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>",
        escape(room),
        escape(nick)
    )
}

/// Accepts the default configuration of a room just created (an "instant
/// room"), which unlocks it for others.
pub fn muc_instant(id: &str, room: &str) -> String {
    format!(
        "<iq xmlns='jabber:client' type='set' id='{id}' to='{}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>",
        escape(room)
    )
}

/// A message; `kind` is `chat` or `groupchat`.
pub fn message(to: &str, kind: &str, id: &str, body: &str) -> String {
    format!(
        "<message xmlns='jabber:client' to='{}' type='{kind}' id='{id}'><body>{}</body></message>",
        escape(to),
        escape(body)
    )
}

/// An empty result for an iq the server asked (pings).
pub fn iq_result(id: &str, to: Option<&str>) -> String {
    match to {
        Some(to) => format!(
            "<iq xmlns='jabber:client' type='result' id='{}' to='{}'/>",
            escape(id),
            escape(to)
        ),
        None => format!(
            "<iq xmlns='jabber:client' type='result' id='{}'/>",
            escape(id)
        ),
    }
}
