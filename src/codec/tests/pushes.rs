//! Golden vectors for every push, in both formats.

use super::*;

#[test]
fn publication_push() {
    let push = Push {
        channel: "news".into(),
        r#pub: Some(Publication {
            data: raw(r#"{"text":"hi"}"#),
            offset: 12,
            tags: map([("a", "1".to_string()), ("b", "2".to_string())]),
            time: 1_700_000_000_123,
            ..Default::default()
        }),
        ..Default::default()
    };
    let json = r#"{"push":{"channel":"news","pub":{"data":{"text":"hi"},"offset":12,"tags":{"a":"1","b":"2"},"time":1700000000123}}}"#;
    let protobuf = message(
        4,
        &[
            ld(2, b"news"),
            message(
                4,
                &[
                    ld(4, br#"{"text":"hi"}"#),
                    uint(6, 12),
                    entry(7, "a", ld(2, b"1")),
                    entry(7, "b", ld(2, b"2")),
                    uint(9, 1_700_000_000_123),
                ],
            ),
        ],
    );
    vector(reply_push(push), json, protobuf);
}

#[test]
fn publication_push_with_the_newer_fields() {
    let push = Push {
        id: 77,
        r#pub: Some(Publication {
            data: raw(r#""delta-text""#),
            delta: true,
            channel: "news:1".into(),
            epoch: "e2".into(),
            prev_data: raw("{}"),
            ..Default::default()
        }),
        ..Default::default()
    };
    let json = r#"{"push":{"id":77,"pub":{"data":"delta-text","delta":true,"channel":"news:1","epoch":"e2","prev_data":{}}}}"#;
    let protobuf = message(
        4,
        &[
            uint(1, 77),
            message(
                4,
                &[ld(4, br#""delta-text""#), uint(8, 1), ld(10, b"news:1"), ld(14, b"e2"), ld(15, b"{}")],
            ),
        ],
    );
    vector(reply_push(push), json, protobuf);
}

#[test]
fn join_and_leave_pushes() {
    let info = ClientInfo { user: "u".into(), client: "c".into(), ..Default::default() };
    let join = Push {
        channel: "pres:a".into(),
        join: Some(Box::new(Join { info: Some(info.clone()) })),
        ..Default::default()
    };
    vector(
        reply_push(join),
        r#"{"push":{"channel":"pres:a","join":{"info":{"user":"u","client":"c"}}}}"#,
        message(4, &[ld(2, b"pres:a"), message(5, &[message(1, &[ld(1, b"u"), ld(2, b"c")])])]),
    );
    let leave = Push {
        channel: "pres:a".into(),
        leave: Some(Box::new(Leave { info: Some(info) })),
        ..Default::default()
    };
    vector(
        reply_push(leave),
        r#"{"push":{"channel":"pres:a","leave":{"info":{"user":"u","client":"c"}}}}"#,
        message(4, &[ld(2, b"pres:a"), message(6, &[message(1, &[ld(1, b"u"), ld(2, b"c")])])]),
    );
}

#[test]
fn unsubscribe_push() {
    let push = Push {
        channel: "news".into(),
        unsubscribe: Some(Box::new(Unsubscribe { code: 2000, reason: "server unsubscribe".into() })),
        ..Default::default()
    };
    vector(
        reply_push(push),
        r#"{"push":{"channel":"news","unsubscribe":{"code":2000,"reason":"server unsubscribe"}}}"#,
        message(4, &[ld(2, b"news"), message(7, &[uint(2, 2000), ld(3, b"server unsubscribe")])]),
    );
}

#[test]
fn message_push() {
    let push = Push { message: Some(Box::new(Message { data: raw(r#""hello""#) })), ..Default::default() };
    vector(
        reply_push(push),
        r#"{"push":{"message":{"data":"hello"}}}"#,
        message(4, &[message(8, &[ld(1, br#""hello""#)])]),
    );
}

#[test]
fn subscribe_push() {
    let push = Push {
        channel: "srv".into(),
        subscribe: Some(Box::new(Subscribe {
            recoverable: true,
            epoch: "e".into(),
            offset: 7,
            positioned: true,
            data: raw(r#"{"s":1}"#),
        })),
        ..Default::default()
    };
    vector(
        reply_push(push),
        r#"{"push":{"channel":"srv","subscribe":{"recoverable":true,"epoch":"e","offset":7,"positioned":true,"data":{"s":1}}}}"#,
        message(
            4,
            &[
                ld(2, b"srv"),
                message(9, &[uint(1, 1), ld(4, b"e"), uint(5, 7), uint(6, 1), ld(7, br#"{"s":1}"#)]),
            ],
        ),
    );
}

#[test]
fn connect_disconnect_and_refresh_pushes() {
    let push = Push {
        connect: Some(Box::new(Connect {
            client: "c".into(),
            version: "6".into(),
            data: raw(r#"{"d":1}"#),
            ping: 25,
            pong: true,
            ..Default::default()
        })),
        ..Default::default()
    };
    vector(
        reply_push(push),
        r#"{"push":{"connect":{"client":"c","version":"6","data":{"d":1},"ping":25,"pong":true}}}"#,
        message(
            4,
            &[message(10, &[ld(1, b"c"), ld(2, b"6"), ld(3, br#"{"d":1}"#), uint(7, 25), uint(8, 1)])],
        ),
    );
    let push = Push {
        disconnect: Some(Box::new(Disconnect { code: 3001, reason: "shutdown".into(), reconnect: false })),
        ..Default::default()
    };
    vector(
        reply_push(push),
        r#"{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}"#,
        message(4, &[message(11, &[uint(1, 3001), ld(2, b"shutdown")])]),
    );
    let push = Push { refresh: Some(Box::new(Refresh { expires: true, ttl: 10 })), ..Default::default() };
    vector(
        reply_push(push),
        r#"{"push":{"refresh":{"expires":true,"ttl":10}}}"#,
        message(4, &[message(12, &[uint(1, 1), uint(2, 10)])]),
    );
}
