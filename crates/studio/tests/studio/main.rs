//! kiln-studio end to end: the JSON API and its safety rules, the pages in a real Chromium
//! driven through chromedriver (WebDriver), and a bounded load test while a training run
//! appends to the logdir. Needs a GPU adapter (lavapipe) and Fashion-MNIST; the browser test
//! needs Debian's chromium and chromium-driver (KILN_REQUIRE_BROWSER=1 makes them mandatory).

mod api;
mod browser;
mod fixture;
mod load;
