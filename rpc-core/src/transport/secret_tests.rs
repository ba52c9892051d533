//! The exchange over an in-memory pair: success, wrong secrets, replay, reflection, truncation.

use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

async fn exchange(client: &SharedSecret, server: &SharedSecret) -> (Result<()>, Result<Credentials>) {
    let (mut a, mut b) = duplex(4096);
    tokio::join!(client.client_exchange(&mut a), server.server_exchange(&mut b))
}

#[tokio::test]
async fn the_same_secret_passes_and_names_its_label() {
    let secret = SharedSecret::new("s3cret").with_label("ops");
    let (client, server) = exchange(&secret, &secret).await;
    client.expect("client side");
    let creds = server.expect("server side");
    assert_eq!(creds.shared_secret.as_deref(), Some("ops"));
}

#[tokio::test]
async fn a_wrong_secret_fails_on_both_sides() {
    let (client, server) = exchange(&SharedSecret::new("guess"), &SharedSecret::new("s3cret")).await;
    // The client catches the server's proof first, and tells the server.
    let client = client.expect_err("client").to_string();
    assert!(client.contains("the server does not know the secret"), "{client}");
    let server = server.expect_err("server").to_string();
    assert!(server.contains("the client refused"), "{server}");
}

/// Plays a client by hand with `key`, returning the proof it sent and the server's answer.
async fn client_by_hand(
    io: &mut DuplexStream,
    cn: [u8; NONCE_LEN],
    proof: Option<[u8; PROOF_LEN]>,
    key: &hmac::Key,
) -> (Vec<u8>, Result<()>) {
    io.write_all(&[&AUTH_MAGIC[..], &[VERSION], &cn].concat())
        .await
        .expect("hello");
    let mut answer = [0u8; 8 + 1 + NONCE_LEN + PROOF_LEN];
    io.read_exact(&mut answer).await.expect("challenge");
    let sn: [u8; NONCE_LEN] = answer[9..9 + NONCE_LEN].try_into().expect("nonce");
    let proof = proof.unwrap_or_else(|| {
        let tag = hmac::sign(key, &transcript(CLIENT_LABEL, &sn, &cn));
        tag.as_ref().try_into().expect("32 bytes")
    });
    io.write_all(&[&[OK][..], &proof].concat()).await.expect("proof");
    (proof.to_vec(), read_status(io, "the server").await)
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let secret = SharedSecret::new("s3cret");
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"s3cret");
    let cn = [7u8; NONCE_LEN];

    let (mut a, mut b) = duplex(4096);
    let ((recorded, first), server) = tokio::join!(
        client_by_hand(&mut a, cn, None, &key),
        secret.server_exchange(&mut b)
    );
    first.expect("the genuine exchange passes");
    server.expect("server accepts it");

    // The same bytes again: the server's nonce is new, so the recorded proof is wrong.
    let (mut a, mut b) = duplex(4096);
    let proof: [u8; PROOF_LEN] = recorded.as_slice().try_into().expect("32 bytes");
    let ((_, replayed), server) = tokio::join!(
        client_by_hand(&mut a, cn, Some(proof), &key),
        secret.server_exchange(&mut b)
    );
    let replayed = replayed.expect_err("replay refused").to_string();
    assert!(replayed.contains("wrong shared secret"), "{replayed}");
    assert!(server.is_err());
}

#[tokio::test]
async fn a_server_proof_is_no_client_proof() {
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"s3cret");
    let (cn, sn) = ([1u8; NONCE_LEN], [2u8; NONCE_LEN]);
    // Reflection: whatever nonces an attacker arranges, the labels keep the proofs apart.
    let server_proof = hmac::sign(&key, &transcript(SERVER_LABEL, &sn, &cn));
    assert!(hmac::verify(&key, &transcript(CLIENT_LABEL, &sn, &cn), server_proof.as_ref()).is_err());
}

#[tokio::test]
async fn a_truncated_exchange_is_a_clear_error() {
    let secret = SharedSecret::new("s3cret");
    let (mut a, mut b) = duplex(4096);
    a.write_all(&AUTH_MAGIC[..5]).await.expect("write");
    drop(a);
    let err = secret
        .server_exchange(&mut b)
        .await
        .expect_err("truncated")
        .to_string();
    assert!(
        err.contains("in the middle of the shared-secret exchange"),
        "{err}"
    );
}

#[tokio::test]
async fn a_long_reason_is_cut() {
    let (mut a, mut b) = duplex(4096);
    let reason = "é".repeat(REASON_MAX);
    a.write_all(&failure(&reason)).await.expect("write");
    let err = read_status(&mut b, "the server")
        .await
        .expect_err("failure")
        .to_string();
    assert!(err.len() < REASON_MAX + 64, "{err}");
}
