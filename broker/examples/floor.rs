//! The floor for benchmarks: a bare actix-web endpoint returning a JSON body of a given size, with
//! the same worker count and no database, keys or middleware. `scripts/bench` measures it beside the
//! broker so every figure can be read as a ratio to what the framework itself costs here.
//!
//! `cargo run --release -p broker --example floor -- <port> <body bytes> <workers>`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::{App, HttpResponse, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(18999);
    let bytes: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let workers: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(2);
    // A JSON object padded to `bytes`.
    let filler = "x".repeat(bytes.saturating_sub(14));
    let body = web::Bytes::from(format!("{{\"padding\":\"{filler}\"}}"));
    println!("READY http://127.0.0.1:{port}");
    HttpServer::new(move || {
        let body = body.clone();
        App::new().route(
            "/floor",
            web::get().to(move || {
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }),
        )
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
