//! `GET /openapi.json`: the API contract. `openapi.yaml` at the repository
//! root is the source; it is compiled in and turned into JSON once per
//! instance, so the document served is always the one this build was tested
//! against.

use std::sync::LazyLock;

use lambda_http::{http::StatusCode, Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{http, ApiError, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
/// Serves a document compiled into the binary.
pub const AWS_ACCESS: Access = Access::NONE;

pub const SOURCE: &str = include_str!("../../../openapi.yaml");

static DOCUMENT: LazyLock<Result<Vec<u8>, String>> =
    LazyLock::new(|| document().and_then(|doc| serde_json::to_vec(&doc).map_err(|e| e.to_string())));

/// The contract as a JSON value.
pub fn document() -> Result<serde_json::Value, String> {
    serde_yaml::from_str(SOURCE).map_err(|e| format!("openapi.yaml: {e}"))
}

/// The Lambda's handler: it needs no store, so its bootstrap builds no
/// `State` (and reads no secret).
pub async fn serve(_req: Request) -> Result<Response<Body>, Error> {
    let reply = match &*DOCUMENT {
        Ok(json) => Ok(http::Reply::raw(StatusCode::OK, json.clone())),
        Err(reason) => Err(ApiError::Internal(anyhow::anyhow!("{reason}"))),
    };
    Ok(http::respond(reply))
}

/// The same handler in the shape the local gateway calls every function.
pub async fn handle(_state: &State, req: Request) -> Result<Response<Body>, Error> {
    serve(req).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_source_is_an_openapi_3_1_document() {
        let doc = super::document().unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"].as_object().unwrap().len() >= 11);
    }
}
