//! A session's device in words ("Firefox 133 on Windows"), from the User-Agent it sent.

/// Browser (with its major version) and operating system; the raw string's first word when
/// neither is recognised (a command-line client, say).
pub fn describe(user_agent: &str) -> String {
    let ua = user_agent.trim();
    if ua.is_empty() {
        return "Unknown device".to_owned();
    }
    let browser = browser(ua);
    let os = os(ua);
    match (browser, os) {
        (Some(browser), Some(os)) => format!("{browser} on {os}"),
        (Some(browser), None) => browser,
        (None, Some(os)) => format!("A browser on {os}"),
        (None, None) => ua
            .split_whitespace()
            .next()
            .unwrap_or(ua)
            .chars()
            .take(40)
            .collect(),
    }
}

fn browser(ua: &str) -> Option<String> {
    // Order matters: Edge and Opera also say "Chrome"; Chrome also says "Safari".
    const BROWSERS: [(&str, &str); 7] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("CriOS/", "Chrome"),
        ("Version/", "Safari"),
    ];
    BROWSERS.iter().find_map(|(token, name)| {
        let version = ua.split(token).nth(1)?;
        let major: String = version.chars().take_while(char::is_ascii_digit).collect();
        if *name == "Safari" && !ua.contains("Safari/") {
            return None;
        }
        Some(if major.is_empty() {
            (*name).to_owned()
        } else {
            format!("{name} {major}")
        })
    })
}

fn os(ua: &str) -> Option<&'static str> {
    const SYSTEMS: [(&str, &str); 8] = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
    ];
    SYSTEMS
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_browsers_read_as_browser_and_system() {
        for (ua, expected) in [
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36", "Chrome 156 on Linux"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox 133 on Windows"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari 18 on iPhone"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge 131 on macOS"),
            ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome 131 on Android"),
            ("curl/8.5.0", "curl/8.5.0"),
            ("", "Unknown device"),
        ] {
            assert_eq!(describe(ua), expected, "{ua}");
        }
    }
}
