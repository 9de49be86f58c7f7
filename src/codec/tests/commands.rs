//! Golden vectors for every command, in both formats.

use super::*;

#[test]
fn connect_command() {
    let command = Command {
        id: 1,
        connect: Some(Box::new(ConnectRequest {
            token: "t0k".into(),
            data: raw(r#"{"a":1}"#),
            subs: map([(
                "news",
                SubscribeRequest { recover: true, epoch: "ep".into(), offset: 5, ..Default::default() },
            )]),
            name: "rust".into(),
            version: "1.0".into(),
            headers: map([("X-A", "b".to_string())]),
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":1,"connect":{"token":"t0k","data":{"a":1},"subs":{"news":{"recover":true,"epoch":"ep","offset":5}},"name":"rust","version":"1.0","headers":{"X-A":"b"}}}"#;
    let protobuf = [
        uint(1, 1),
        message(
            4,
            &[
                ld(1, b"t0k"),
                ld(2, br#"{"a":1}"#),
                entry(3, "news", message(2, &[uint(3, 1), ld(6, b"ep"), uint(7, 5)])),
                ld(4, b"rust"),
                ld(5, b"1.0"),
                entry(6, "X-A", ld(2, b"b")),
            ],
        ),
    ]
    .concat();
    vector(command, json, protobuf);
}

#[test]
fn connect_command_with_the_newer_fields() {
    let command = Command {
        id: 1,
        connect: Some(Box::new(ConnectRequest {
            flag: 1,
            dict: "d1".into(),
            profile: "mobile".into(),
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":1,"connect":{"flag":1,"dict":"d1","profile":"mobile"}}"#;
    let protobuf = [uint(1, 1), message(4, &[uint(7, 1), ld(8, b"d1"), ld(9, b"mobile")])].concat();
    vector(command, json, protobuf);
}

#[test]
fn subscribe_command_with_every_option_and_the_largest_offset() {
    let command = Command {
        id: 2,
        subscribe: Some(Box::new(SubscribeRequest {
            channel: "hist:a".into(),
            token: "st".into(),
            recover: true,
            epoch: "xyz".into(),
            offset: u64::MAX,
            data: raw(r#""d""#),
            positioned: true,
            recoverable: true,
            join_leave: true,
            delta: "fossil".into(),
            tf: Some(FilterNode { key: "k".into(), cmp: "eq".into(), val: "v".into(), ..Default::default() }),
            flag: 2,
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":2,"subscribe":{"channel":"hist:a","token":"st","recover":true,"epoch":"xyz","offset":18446744073709551615,"data":"d","positioned":true,"recoverable":true,"join_leave":true,"delta":"fossil","tf":{"key":"k","cmp":"eq","val":"v"},"flag":2}}"#;
    let protobuf = [
        uint(1, 2),
        message(
            5,
            &[
                ld(1, b"hist:a"),
                ld(2, b"st"),
                uint(3, 1),
                ld(6, b"xyz"),
                uint(7, u64::MAX),
                ld(8, br#""d""#),
                uint(9, 1),
                uint(10, 1),
                uint(11, 1),
                ld(12, b"fossil"),
                message(13, &[ld(2, b"k"), ld(3, b"eq"), ld(4, b"v")]),
                uint(14, 2),
            ],
        ),
    ]
    .concat();
    vector(command, json, protobuf);
}

#[test]
fn subscribe_command_for_map_subscriptions() {
    let command = Command {
        id: 9,
        subscribe: Some(Box::new(SubscribeRequest {
            channel: "m".into(),
            r#type: 1,
            phase: 2,
            cursor: "c".into(),
            limit: 100,
            asc: true,
            ..Default::default()
        })),
        ..Default::default()
    };
    let json =
        r#"{"id":9,"subscribe":{"channel":"m","type":1,"phase":2,"cursor":"c","limit":100,"asc":true}}"#;
    let protobuf = [
        uint(1, 9),
        message(5, &[ld(1, b"m"), uint(15, 1), uint(16, 2), ld(17, b"c"), uint(18, 100), uint(19, 1)]),
    ]
    .concat();
    vector(command, json, protobuf);
}

#[test]
fn unsubscribe_command() {
    let command = Command {
        id: 3,
        unsubscribe: Some(UnsubscribeRequest { channel: "news".into() }),
        ..Default::default()
    };
    vector(
        command,
        r#"{"id":3,"unsubscribe":{"channel":"news"}}"#,
        [uint(1, 3), message(6, &[ld(1, b"news")])].concat(),
    );
}

#[test]
fn publish_command_passes_unicode_payload_through() {
    let payload = r#"{"text":"héllo ✓","n":[1,2.5,null,true]}"#;
    let command = Command {
        id: 4,
        publish: Some(PublishRequest { channel: "chat".into(), data: raw(payload), ..Default::default() }),
        ..Default::default()
    };
    let json = format!(r#"{{"id":4,"publish":{{"channel":"chat","data":{payload}}}}}"#);
    let protobuf = [uint(1, 4), message(7, &[ld(1, b"chat"), ld(2, payload.as_bytes())])].concat();
    vector(command, &json, protobuf);
}

#[test]
fn presence_and_presence_stats_commands() {
    let command =
        Command { id: 5, presence: Some(PresenceRequest { channel: "pres:a".into() }), ..Default::default() };
    vector(
        command,
        r#"{"id":5,"presence":{"channel":"pres:a"}}"#,
        [uint(1, 5), message(8, &[ld(1, b"pres:a")])].concat(),
    );
    let command = Command {
        id: 6,
        presence_stats: Some(PresenceStatsRequest { channel: "pres:a".into() }),
        ..Default::default()
    };
    vector(
        command,
        r#"{"id":6,"presence_stats":{"channel":"pres:a"}}"#,
        [uint(1, 6), message(9, &[ld(1, b"pres:a")])].concat(),
    );
}

#[test]
fn history_command_with_negative_limit_and_since() {
    let command = Command {
        id: 7,
        history: Some(Box::new(HistoryRequest {
            channel: "hist:a".into(),
            limit: -1,
            since: Some(StreamPosition { offset: 10, epoch: "e".into() }),
            reverse: true,
        })),
        ..Default::default()
    };
    let json = r#"{"id":7,"history":{"channel":"hist:a","limit":-1,"since":{"offset":10,"epoch":"e"},"reverse":true}}"#;
    let protobuf = [
        uint(1, 7),
        message(10, &[ld(1, b"hist:a"), int(7, -1), message(8, &[uint(1, 10), ld(2, b"e")]), uint(9, 1)]),
    ]
    .concat();
    // A negative int32 is a ten-byte varint on the wire.
    assert_eq!(int(7, -1).len(), 11);
    vector(command, json, protobuf);
}

#[test]
fn legacy_ping_command() {
    let command = Command { id: 8, ping: Some(PingRequest {}), ..Default::default() };
    vector(command, r#"{"id":8,"ping":{}}"#, [uint(1, 8), ld(11, b"")].concat());
}

#[test]
fn send_command_has_no_id() {
    let command = Command { send: Some(SendRequest { data: raw(r#"{"k":"v"}"#) }), ..Default::default() };
    vector(command, r#"{"send":{"data":{"k":"v"}}}"#, message(12, &[ld(1, br#"{"k":"v"}"#)]));
}

#[test]
fn rpc_command() {
    let command = Command {
        id: 10,
        rpc: Some(RpcRequest { data: raw("[1,2,3]"), method: "echo".into() }),
        ..Default::default()
    };
    vector(
        command,
        r#"{"id":10,"rpc":{"data":[1,2,3],"method":"echo"}}"#,
        [uint(1, 10), message(13, &[ld(1, b"[1,2,3]"), ld(2, b"echo")])].concat(),
    );
}

#[test]
fn refresh_and_sub_refresh_commands() {
    let command =
        Command { id: 11, refresh: Some(RefreshRequest { token: "new".into() }), ..Default::default() };
    vector(
        command,
        r#"{"id":11,"refresh":{"token":"new"}}"#,
        [uint(1, 11), message(14, &[ld(1, b"new")])].concat(),
    );
    let command = Command {
        id: 12,
        sub_refresh: Some(Box::new(SubRefreshRequest {
            channel: "tok:a".into(),
            token: "st2".into(),
            ..Default::default()
        })),
        ..Default::default()
    };
    vector(
        command,
        r#"{"id":12,"sub_refresh":{"channel":"tok:a","token":"st2"}}"#,
        [uint(1, 12), message(15, &[ld(1, b"tok:a"), ld(2, b"st2")])].concat(),
    );
}

#[test]
fn sub_refresh_command_for_shared_poll() {
    let command = Command {
        id: 13,
        sub_refresh: Some(Box::new(SubRefreshRequest {
            channel: "p".into(),
            r#type: 1,
            track: vec![TrackBatch {
                signature: "sig".into(),
                items: vec![KeyedItem { key: "k".into(), version: 3 }],
            }],
            untrack: vec!["old".into()],
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":13,"sub_refresh":{"channel":"p","type":1,"track":[{"signature":"sig","items":[{"key":"k","version":3}]}],"untrack":["old"]}}"#;
    let protobuf = [
        uint(1, 13),
        message(
            15,
            &[
                ld(1, b"p"),
                uint(3, 1),
                message(4, &[ld(1, b"sig"), message(2, &[ld(1, b"k"), uint(2, 3)])]),
                ld(5, b"old"),
            ],
        ),
    ]
    .concat();
    vector(command, json, protobuf);
}
