//! The web app's static files (web/dist, built by `make dev` and `make
//! test`), served at `/` beside the API as CloudFront serves them from S3
//! on AWS: same origin, so the app needs no CORS. Only `/` (index.html) and
//! `/assets/<name>` are files; every other path is the API's, so no page
//! can shadow a route, and a path cannot climb out of the folder.

use std::path::PathBuf;

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use http_body_util::Full;

pub struct WebRoot {
    dir: PathBuf,
}

impl WebRoot {
    /// `WEB_DIR`, or web/dist of this checkout; `None` if it was never built
    /// (the API works without the app).
    pub fn from_env() -> Option<WebRoot> {
        let dir = std::env::var_os("WEB_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web/dist"));
        dir.join("index.html").is_file().then_some(WebRoot { dir })
    }

    /// The file for a GET of `path`, or `None` if `path` is not one of ours.
    pub async fn file(&self, path: &str) -> Option<hyper::Response<Full<Bytes>>> {
        let (relative, cache) = match path {
            "/" | "/index.html" => ("index.html".to_owned(), "no-cache"),
            // Hashed names: a new build is a new name, so keep them for ever.
            _ => {
                let name = path.strip_prefix("/assets/")?;
                let safe = !name.is_empty()
                    && !name.starts_with('.')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
                if !safe {
                    return None;
                }
                (format!("assets/{name}"), "public, max-age=31536000, immutable")
            }
        };
        let body = tokio::fs::read(self.dir.join(&relative)).await.ok()?;
        let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&relative)));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if relative == "index.html" {
            // The app's own scripts and styles only; inline style attributes
            // colour the seat legend. The QR codes are inline SVG elements.
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
                ),
            );
        }
        Some(response)
    }
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json" | "map") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempdir::Dir, WebRoot) {
        let dir = tempdir::Dir::new();
        std::fs::create_dir_all(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<!DOCTYPE html>").unwrap();
        std::fs::write(dir.path().join("assets/app-1.js"), "export {}").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "no").unwrap();
        let web = WebRoot { dir: dir.path().to_owned() };
        (dir, web)
    }

    /// A scratch folder removed on drop (no crate needed for one test).
    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let path = std::env::temp_dir().join(format!("web-root-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[tokio::test]
    async fn serves_the_page_and_hashed_assets_and_nothing_else() {
        let (_dir, web) = root();
        let page = web.file("/").await.unwrap();
        assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let asset = web.file("/assets/app-1.js").await.unwrap();
        assert_eq!(asset.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert!(asset.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"));
        for outside in [
            "/secret.txt",
            "/assets/../secret.txt",
            "/assets/..",
            "/assets/.hidden",
            "/assets/",
            "/events",
            "/assets/a/b.js",
        ] {
            assert!(web.file(outside).await.is_none(), "{outside}");
        }
    }
}
