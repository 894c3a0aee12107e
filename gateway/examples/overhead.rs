//! Measuring the gateway's overhead with an external load generator (wrk, homeml loadtest).
//!
//! `overhead stub` serves a fixed KServe V2 iris answer (the cheapest possible model server);
//! `overhead gateway URL` runs the iris app of the gateway in front of the server at URL.
//! Each prints `listening on ADDR` and runs until killed. See bench/gateway.md.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const ANSWER: &str = r#"{"model_name":"iris","model_version":"1","id":"x","outputs":[{"name":"label","datatype":"INT64","shape":[1],"data":[0]},{"name":"probabilities","datatype":"FP32","shape":[1,3],"data":[0.9,0.05,0.05]}]}"#;

async fn stub(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let _ = req.into_body().collect().await;
    let mut r = Response::new(Full::new(Bytes::from_static(ANSWER.as_bytes())));
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    Ok(r)
}

fn config(url: &str) -> String {
    let mut s = String::from("[[apps]]\nname = \"iris\"\n");
    for f in ["sepal_length", "sepal_width", "petal_length", "petal_width"] {
        s.push_str(&format!(
            "[[apps.features]]\nname = \"{f}\"\ntype = \"float\"\nmin = 0.0\nmax = 30.0\n"
        ));
    }
    s.push_str("[apps.input]\nname = \"float_input\"\n[apps.output]\nlabels = [\"setosa\", \"versicolor\", \"virginica\"]\n");
    s.push_str(&format!(
        "[[apps.upstreams]]\nurl = \"{url}\"\nmodel = \"iris\"\n"
    ));
    s
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on {}", listener.local_addr()?);
        match args.get(1).map(String::as_str) {
            Some("stub") => loop {
                let (stream, _) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(stub))
                        .await;
                });
            },
            Some("gateway") => {
                let url = args.get(2).ok_or("usage: overhead gateway URL")?;
                let cfg = homeml_gateway::GatewayConfig::from_toml_str(
                    &config(url),
                    std::path::Path::new("overhead.toml"),
                    std::path::Path::new("."),
                )?;
                let gw = homeml_gateway::Gateway::new(&cfg)?;
                gw.serve(listener, std::future::pending()).await?;
                Ok(())
            }
            _ => Err("usage: overhead stub | overhead gateway URL".into()),
        }
    })
}
