//! A headless Chromium for tests that need a real browser, driven over the W3C WebDriver
//! HTTP protocol with reqwest. It runs Debian's `chromium` through `chromium-driver`
//! (`chromedriver`), both installed by `scripts/system-packages`: the test machines cannot
//! download a browser, so no browser-fetching crate applies, and the few commands the
//! tests need are simpler spoken directly than through a WebDriver crate.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process with one browser session. Dropping it (or [`Browser::quit`])
/// closes the browser, kills the driver and removes the browser profile.
pub struct Browser {
    driver: tokio::process::Child,
    client: reqwest::Client,
    port: u16,
    /// `/session/<id>`; empty until the session exists and once it is closed.
    session: String,
    /// The driver's log and the browser profile.
    dir: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session with a fresh
    /// profile.
    pub async fn start() -> Browser {
        let port = crate::free_port();
        let dir = std::env::temp_dir().join(format!("charter-chromium-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = std::fs::File::create(dir.join("chromedriver.log")).unwrap();
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver: {e} (run scripts/system-packages)"));
        let client = crate::http().timeout(Duration::from_secs(60));
        let mut browser = Browser {
            driver,
            client: client.build().unwrap(),
            port,
            session: String::new(),
            dir,
        };
        browser.wait_ready(Duration::from_secs(20)).await;
        let profile = format!("--user-data-dir={}", browser.dir.join("profile").display());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                profile]},
            "goog:loggingPrefs": {"browser": "SEVERE"},
        }}});
        let created = browser.send(Method::POST, "/session", capabilities).await;
        match created {
            Ok(v) => browser.session = format!("/session/{}", v["sessionId"].as_str().unwrap()),
            Err(e) => panic!("creating a Chromium session: {e}\n{}", browser.log()),
        }
        browser
    }

    async fn wait_ready(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.driver.try_wait() {
                panic!("chromedriver exited with {status}\n{}", self.log());
            }
            if let Ok(v) = self.send(Method::GET, "/status", Value::Null).await
                && v["ready"] == json!(true)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver not ready within {within:?}\n{}", self.log());
    }

    /// The driver's log (a few lines unless something failed), for failure messages.
    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("chromedriver.log"));
        format!("chromedriver log:\n{}", log.unwrap_or_default())
    }

    /// One request to the driver (`path` from its root, no body if `body` is null): the
    /// answer's `value`, or the WebDriver error as text.
    async fn send(&self, method: Method, path: &str, body: Value) -> Result<Value, String> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut request = self.client.request(method.clone(), &url);
        if !body.is_null() {
            request = request.json(&body);
        }
        let failed = |e: reqwest::Error| format!("{method} {url}: {e}");
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let mut answer: Value = response.json().await.map_err(failed)?;
        let value = answer["value"].take();
        match status.is_success() {
            true => Ok(value),
            false => Err(format!("{method} {url}: {status}: {}", value["message"])),
        }
    }

    /// A command on this session (`path` after `/session/<id>`); panics on an error.
    async fn command(&self, method: Method, path: &str, body: Value) -> Value {
        let path = format!("{}{path}", self.session);
        let answer = self.send(method, &path, body).await;
        answer.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn string(&self, path: &str) -> String {
        let v = self.command(Method::GET, path, Value::Null).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// Navigates to `url` (`http://…` or `file://…`) and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        let body = json!({ "url": url });
        self.command(Method::POST, "/url", body).await;
    }

    pub async fn title(&self) -> String {
        self.string("/title").await
    }

    /// The page's current HTML.
    pub async fn source(&self) -> String {
        self.string("/source").await
    }

    /// The rendered text of the first element matching `css`; panics with the beginning of
    /// the page when there is none.
    pub async fn text(&self, css: &str) -> String {
        let body = json!({"using": "css selector", "value": css});
        let path = format!("{}/element", self.session);
        match self.send(Method::POST, &path, body).await {
            Ok(element) => self.element_text(&element).await,
            Err(e) => {
                let page = self.page_text().await;
                panic!("no element matches {css:?} ({e}); the page says:\n{page}")
            }
        }
    }

    /// The rendered texts of every element matching `css`, in document order.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let body = json!({"using": "css selector", "value": css});
        let elements = self.command(Method::POST, "/elements", body).await;
        let mut texts = Vec::new();
        for element in elements.as_array().into_iter().flatten() {
            texts.push(self.element_text(element).await);
        }
        texts
    }

    async fn element_text(&self, element: &Value) -> String {
        let id = element[ELEMENT].as_str().expect("an element reference");
        self.string(&format!("/element/{id}/text")).await
    }

    /// Runs `script` as the body of a function called with `args` (`arguments[0]`, …) and
    /// returns its result (a returned promise is awaited).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        let body = json!({"script": script, "args": args});
        self.command(Method::POST, "/execute/sync", body).await
    }

    /// The console errors (and failed loads) the browser logged since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        let body = json!({"type": "browser"});
        let entries = self.command(Method::POST, "/se/log", body).await;
        let entries = entries.as_array().into_iter().flatten();
        let errors = entries.filter(|e| e["level"] == "SEVERE");
        errors
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The first element matching `css`; panics with the beginning of the page when there
    /// is none.
    async fn element(&self, css: &str) -> String {
        let body = json!({"using": "css selector", "value": css});
        let path = format!("{}/element", self.session);
        match self.send(Method::POST, &path, body).await {
            Ok(e) => e[ELEMENT]
                .as_str()
                .expect("an element reference")
                .to_string(),
            Err(e) => {
                let page = self.page_text().await;
                panic!("no element matches {css:?} ({e}); the page says:\n{page}")
            }
        }
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        let body = json!({"using": "css selector", "value": css});
        let elements = self.command(Method::POST, "/elements", body).await;
        elements.as_array().map_or(0, Vec::len)
    }

    /// Clicks the first element matching `css` (a link or a submit button: the next page
    /// has loaded when this returns).
    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.command(Method::POST, &format!("/element/{id}/click"), json!({}))
            .await;
    }

    /// Clicks a link or a form's button and waits for the next page to have loaded (a
    /// click can return before the navigation it starts has begun).
    pub async fn follow(&self, css: &str) {
        self.execute("window.__charterBefore = true;", vec![]).await;
        self.click(css).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let loaded = self
                .send(
                    Method::POST,
                    &format!("{}/execute/sync", self.session),
                    json!({"script": "return window.__charterBefore === undefined && document.readyState === 'complete';", "args": []}),
                )
                .await;
            if loaded.is_ok_and(|v| v == json!(true)) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no new page after clicking {css}; the page says:\n{}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Replaces the value of the first input matching `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.command(Method::POST, &format!("/element/{id}/clear"), json!({}))
            .await;
        self.command(
            Method::POST,
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// The address of the page shown.
    pub async fn url(&self) -> String {
        self.string("/url").await
    }

    /// Waits until the first element matching `css` shows text containing `part`, and
    /// returns its text; panics with what the page showed after `within`. Elements that
    /// are missing or replaced (the page is still loading) are looked for again.
    pub async fn wait_text(&self, css: &str, part: &str, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        let path = format!("{}/element", self.session);
        let find = json!({"using": "css selector", "value": css});
        loop {
            let shown = match self.send(Method::POST, &path, find.clone()).await {
                Ok(e) => {
                    let id = e[ELEMENT].as_str().unwrap_or_default().to_string();
                    let text = format!("{}/element/{id}/text", self.session);
                    self.send(Method::GET, &text, Value::Null).await.ok()
                }
                Err(_) => None,
            };
            let shown = shown.and_then(|v| v.as_str().map(str::to_string));
            if let Some(text) = &shown
                && text.contains(part)
            {
                return text.clone();
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{css} shows {shown:?}, not {part:?}; the page says:\n{}",
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The page's visible text (its beginning), for failure messages.
    pub async fn page_text(&self) -> String {
        let v = self
            .execute(
                "return document.body ? document.body.innerText : ''",
                vec![],
            )
            .await;
        v.as_str().unwrap_or_default().chars().take(3000).collect()
    }

    /// Saves a PNG of the viewport as `target/screenshots/<name>.png`, for people to look
    /// at (never compared).
    pub async fn screenshot(&self, name: &str) {
        use base64::Engine;
        let png = self.string("/screenshot").await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png)
            .expect("a base64 PNG");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }

    /// Sets the browser window's size (screenshots show what fits in it).
    pub async fn window(&self, width: u32, height: u32) {
        self.command(
            Method::POST,
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
    }

    /// Closes the browser and stops the driver.
    pub async fn quit(mut self) {
        let session = std::mem::take(&mut self.session);
        if !session.is_empty() {
            let _ = self.send(Method::DELETE, &session, Value::Null).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium outlives a killed chromedriver, so the session is closed first, with a
        // blocking request since drop cannot await.
        if !self.session.is_empty()
            && let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port))
        {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                self.session, self.port
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::Browser;

    #[tokio::test]
    async fn reads_a_local_page() {
        let dir = std::env::temp_dir().join(format!("charter-page-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let page = dir.join("index.html");
        let html = "<title>Smoke</title><h1>Hello</h1><ul><li>a</li><li>b</li></ul>\
                    <script>document.body.dataset.ready = 'yes'</script>";
        std::fs::write(&page, html).unwrap();
        let browser = Browser::start().await;
        browser.goto(&format!("file://{}", page.display())).await;
        assert_eq!(browser.title().await, "Smoke");
        assert_eq!(browser.text("h1").await, "Hello");
        assert_eq!(browser.texts("li").await, ["a", "b"]);
        let script = "return document.body.dataset.ready + arguments[0]";
        assert_eq!(browser.execute(script, vec![1.into()]).await, "yes1");
        assert!(browser.source().await.contains("<h1>Hello</h1>"));
        assert_eq!(browser.console_errors().await, Vec::<String>::new());
        browser.execute("console.error('boom')", vec![]).await;
        let errors = browser.console_errors().await;
        let boom = errors.len() == 1 && errors[0].contains("boom");
        assert!(boom, "{errors:?}");
        browser.quit().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
