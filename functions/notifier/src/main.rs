#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve_event(notifier::handle).await
}
