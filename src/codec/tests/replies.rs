//! Golden vectors for every reply, in both formats.

use super::*;

#[test]
fn error_replies() {
    let reply = Reply {
        id: 2,
        error: Some(Error { code: 103, message: "permission denied".into(), temporary: false }),
        ..Default::default()
    };
    vector(
        reply,
        r#"{"id":2,"error":{"code":103,"message":"permission denied"}}"#,
        [uint(1, 2), message(2, &[uint(1, 103), ld(2, b"permission denied")])].concat(),
    );
    let reply = Reply {
        id: 3,
        error: Some(Error { code: 100, message: "internal server error".into(), temporary: true }),
        ..Default::default()
    };
    vector(
        reply,
        r#"{"id":3,"error":{"code":100,"message":"internal server error","temporary":true}}"#,
        [uint(1, 3), message(2, &[uint(1, 100), ld(2, b"internal server error"), uint(3, 1)])].concat(),
    );
}

#[test]
fn connect_reply() {
    let reply = Reply {
        id: 1,
        connect: Some(Box::new(ConnectResult {
            client: "c1".into(),
            version: "6.9.1".into(),
            expires: true,
            ttl: 60,
            data: raw(r#"{"w":1}"#),
            subs: map([(
                "personal:#42",
                SubscribeResult {
                    recoverable: true,
                    epoch: "ab".into(),
                    offset: 3,
                    positioned: true,
                    ..Default::default()
                },
            )]),
            ping: 25,
            pong: true,
            time: 1_700_000_000_000,
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":1,"connect":{"client":"c1","version":"6.9.1","expires":true,"ttl":60,"data":{"w":1},"subs":{"personal:#42":{"recoverable":true,"epoch":"ab","offset":3,"positioned":true}},"ping":25,"pong":true,"time":1700000000000}}"#;
    let protobuf = [
        uint(1, 1),
        message(
            5,
            &[
                ld(1, b"c1"),
                ld(2, b"6.9.1"),
                uint(3, 1),
                uint(4, 60),
                ld(5, br#"{"w":1}"#),
                entry(6, "personal:#42", message(2, &[uint(3, 1), ld(6, b"ab"), uint(9, 3), uint(10, 1)])),
                uint(7, 25),
                uint(8, 1),
                uint(11, 1_700_000_000_000),
            ],
        ),
    ]
    .concat();
    vector(reply, json, protobuf);
}

#[test]
fn connect_reply_with_the_newer_fields() {
    let reply = Reply {
        id: 1,
        connect: Some(Box::new(ConnectResult {
            session: "s".into(),
            node: "n".into(),
            flag: 1,
            dict: Some(Dictionary { id: "d".into(), data: raw("[]"), data_b64: "AA==".into() }),
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":1,"connect":{"session":"s","node":"n","flag":1,"dict":{"id":"d","data":[],"data_b64":"AA=="}}}"#;
    let protobuf = [
        uint(1, 1),
        message(
            5,
            &[
                ld(9, b"s"),
                ld(10, b"n"),
                uint(12, 1),
                message(13, &[ld(1, b"d"), ld(2, b"[]"), ld(3, b"AA==")]),
            ],
        ),
    ]
    .concat();
    vector(reply, json, protobuf);
}

#[test]
fn subscribe_reply_with_recovered_publications() {
    let reply = Reply {
        id: 2,
        subscribe: Some(Box::new(SubscribeResult {
            expires: true,
            ttl: 30,
            recoverable: true,
            epoch: "ep".into(),
            publications: vec![
                Publication { data: raw(r#"{"n":1}"#), offset: 4, ..Default::default() },
                Publication {
                    data: raw(r#"{"n":2}"#),
                    info: Some(Box::new(ClientInfo {
                        user: "u".into(),
                        client: "c".into(),
                        conn_info: raw(r#"{"ci":1}"#),
                        chan_info: raw(r#"{"ch":2}"#),
                    })),
                    offset: 5,
                    tags: map([("t", "1".to_string())]),
                    ..Default::default()
                },
            ],
            recovered: true,
            offset: 5,
            positioned: true,
            data: raw(r#""sd""#),
            was_recovering: true,
            delta: true,
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":2,"subscribe":{"expires":true,"ttl":30,"recoverable":true,"epoch":"ep","publications":[{"data":{"n":1},"offset":4},{"data":{"n":2},"info":{"user":"u","client":"c","conn_info":{"ci":1},"chan_info":{"ch":2}},"offset":5,"tags":{"t":"1"}}],"recovered":true,"offset":5,"positioned":true,"data":"sd","was_recovering":true,"delta":true}}"#;
    let protobuf = [
        uint(1, 2),
        message(
            6,
            &[
                uint(1, 1),
                uint(2, 30),
                uint(3, 1),
                ld(6, b"ep"),
                message(7, &[ld(4, br#"{"n":1}"#), uint(6, 4)]),
                message(
                    7,
                    &[
                        ld(4, br#"{"n":2}"#),
                        message(5, &[ld(1, b"u"), ld(2, b"c"), ld(3, br#"{"ci":1}"#), ld(4, br#"{"ch":2}"#)]),
                        uint(6, 5),
                        entry(7, "t", ld(2, b"1")),
                    ],
                ),
                uint(8, 1),
                uint(9, 5),
                uint(10, 1),
                ld(11, br#""sd""#),
                uint(12, 1),
                uint(13, 1),
            ],
        ),
    ]
    .concat();
    vector(reply, json, protobuf);
}

#[test]
fn subscribe_reply_with_the_newer_fields() {
    let reply = Reply {
        id: 2,
        subscribe: Some(Box::new(SubscribeResult {
            id: 77,
            r#type: 1,
            phase: 1,
            cursor: "next".into(),
            state: vec![Publication {
                key: "k".into(),
                removed: true,
                score: -3,
                version: 8,
                ..Default::default()
            }],
            publish_debounce: 250,
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":2,"subscribe":{"id":77,"type":1,"phase":1,"cursor":"next","state":[{"key":"k","removed":true,"score":-3,"version":8}],"publish_debounce":250}}"#;
    let protobuf = [
        uint(1, 2),
        message(
            6,
            &[
                uint(14, 77),
                uint(15, 1),
                uint(16, 1),
                ld(17, b"next"),
                message(18, &[ld(11, b"k"), uint(12, 1), sint(13, -3), uint(16, 8)]),
                uint(19, 250),
            ],
        ),
    ]
    .concat();
    vector(reply, json, protobuf);
}

#[test]
fn empty_result_replies() {
    vector(
        Reply { id: 3, unsubscribe: Some(UnsubscribeResult {}), ..Default::default() },
        r#"{"id":3,"unsubscribe":{}}"#,
        [uint(1, 3), ld(7, b"")].concat(),
    );
    vector(
        Reply { id: 4, publish: Some(PublishResult {}), ..Default::default() },
        r#"{"id":4,"publish":{}}"#,
        [uint(1, 4), ld(8, b"")].concat(),
    );
    vector(
        Reply { id: 8, ping: Some(PingResult {}), ..Default::default() },
        r#"{"id":8,"ping":{}}"#,
        [uint(1, 8), ld(12, b"")].concat(),
    );
}

#[test]
fn presence_reply() {
    let reply = Reply {
        id: 5,
        presence: Some(Box::new(PresenceResult {
            presence: map([
                ("c1", ClientInfo { user: "u1".into(), client: "c1".into(), ..Default::default() }),
                (
                    "c2",
                    ClientInfo {
                        user: "u2".into(),
                        client: "c2".into(),
                        conn_info: raw(r#"{"name":"x"}"#),
                        ..Default::default()
                    },
                ),
            ]),
        })),
        ..Default::default()
    };
    let json = r#"{"id":5,"presence":{"presence":{"c1":{"user":"u1","client":"c1"},"c2":{"user":"u2","client":"c2","conn_info":{"name":"x"}}}}}"#;
    let protobuf = [
        uint(1, 5),
        message(
            9,
            &[
                entry(1, "c1", message(2, &[ld(1, b"u1"), ld(2, b"c1")])),
                entry(1, "c2", message(2, &[ld(1, b"u2"), ld(2, b"c2"), ld(3, br#"{"name":"x"}"#)])),
            ],
        ),
    ]
    .concat();
    vector(reply, json, protobuf);
}

#[test]
fn presence_stats_reply() {
    let reply = Reply {
        id: 6,
        presence_stats: Some(PresenceStatsResult { num_clients: 2, num_users: 1 }),
        ..Default::default()
    };
    vector(
        reply,
        r#"{"id":6,"presence_stats":{"num_clients":2,"num_users":1}}"#,
        [uint(1, 6), message(10, &[uint(1, 2), uint(2, 1)])].concat(),
    );
}

#[test]
fn history_reply() {
    let reply = Reply {
        id: 7,
        history: Some(Box::new(HistoryResult {
            publications: vec![Publication { data: raw("1"), offset: 9, ..Default::default() }],
            epoch: "e".into(),
            offset: 9,
        })),
        ..Default::default()
    };
    vector(
        reply,
        r#"{"id":7,"history":{"publications":[{"data":1,"offset":9}],"epoch":"e","offset":9}}"#,
        [uint(1, 7), message(11, &[message(1, &[ld(4, b"1"), uint(6, 9)]), ld(2, b"e"), uint(3, 9)])]
            .concat(),
    );
}

#[test]
fn rpc_refresh_and_sub_refresh_replies() {
    vector(
        Reply { id: 10, rpc: Some(RpcResult { data: raw(r#"{"echo":true}"#) }), ..Default::default() },
        r#"{"id":10,"rpc":{"data":{"echo":true}}}"#,
        [uint(1, 10), message(13, &[ld(1, br#"{"echo":true}"#)])].concat(),
    );
    vector(
        Reply {
            id: 11,
            refresh: Some(Box::new(RefreshResult {
                client: "c1".into(),
                version: "6.9.1".into(),
                expires: true,
                ttl: 120,
            })),
            ..Default::default()
        },
        r#"{"id":11,"refresh":{"client":"c1","version":"6.9.1","expires":true,"ttl":120}}"#,
        [uint(1, 11), message(14, &[ld(1, b"c1"), ld(2, b"6.9.1"), uint(3, 1), uint(4, 120)])].concat(),
    );
    vector(
        Reply {
            id: 12,
            sub_refresh: Some(Box::new(SubRefreshResult { expires: true, ttl: 30, items: vec![] })),
            ..Default::default()
        },
        r#"{"id":12,"sub_refresh":{"expires":true,"ttl":30}}"#,
        [uint(1, 12), message(15, &[uint(1, 1), uint(2, 30)])].concat(),
    );
}
