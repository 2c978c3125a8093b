#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve_event(analytics::handle).await
}
