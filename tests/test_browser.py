"""The browser page (clients/web/) in real headless Chromium against a real ``serve`` subprocess.

Chromium's fake capture device plays an espeak-ng WAV as the microphone; the page captures it
with its AudioWorklet, streams it to ``python -m streamer serve --model <demo copy>``, and its
caption area must show the spoken words. Other tests make the server refuse, vanish or sit
behind a proxy, and check that the page says so in words. Screenshots go to tests/artifacts/.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and ``pip install playwright``
(Playwright drives /usr/bin/chromium; ``playwright install`` is not needed). Run with
``pytest -m browser``.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import soundfile as sf

from training.metrics import cer
from training.speech import SAMPLE_RATE, SENTENCES, speech_with_pauses

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
LISTENING = re.compile(r"listening on ws://\S+?:(\d+)/v1/stream")

SPOKEN = SENTENCES[:3]  # three sentences, 1.2 s apart
LEAD_SECONDS = 1.0  # silence before the first word: covers the page's time to connect
TAIL_SECONDS = 3.0  # silence after the last word; Chromium then loops the file from the start
STOP_INTO_TAIL = 1.0  # press Stop this long after the last word, well before the loop
MAX_CER = 0.10
VIEWPORT = {"width": 1100, "height": 620}

SERVER_START_SECONDS = 60.0  # to listen and load the model (2 busy cores)
COPY_ATTEMPTS = 5  # model/demo is rewritten while the model trains; a torn copy fails to load
UI_TIMEOUT_MS = 15_000  # for the page to reach a state (connect, refuse, stop)
GIVE_UP_MS = 40_000  # for the page to stop reconnecting: its tries span 12-24 s (app.js RESUME_ATTEMPTS)
RESUME_TAIL_SECONDS = 6.0  # the failover test's silence after the last word: room for a late reconnect
# What two server restarts may cost the captions, in characters of the spoken text, beyond an
# uninterrupted run's errors. Not 2% between the two runs (the Python client's failover bound): four
# uninterrupted page runs of the same wav differed from the first by 1.6%, 1.6% and 2.6%, and one
# by 3.2% from a resumed run in segments no failover touched (the fake microphone starts at another
# phase of the recognizer's windows each time, and the demo model hears a few words either way).
# Two of the five segments also start cold after a resume (docs/protocol.md, "Resume"). The sharp
# check is that every line keeps its number of words: a lost or doubled word changes it.
RESUME_MAX_CER = 0.04
STOP_TIMEOUT_MS = 30_000  # for the last finals after Stop


# ----- the server ------------------------------------------------------------------------------


class ServerProcess:
    """``python -m streamer serve`` on a free port, its log kept for failure messages."""

    def __init__(self, model: Path, *options: str) -> None:
        command = [sys.executable, "-m", "streamer", "serve", "--model", str(model), "--port", "0", *options]
        self.proc = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self.port: int | None = None
        self.log: list[str] = []
        self._listening = threading.Event()
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line.rstrip())
            match = LISTENING.search(line)
            if match and self.port is None:
                self.port = int(match.group(1))
                self._listening.set()
        self._listening.set()  # exited: stop waiting

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def wait_ready(self, timeout: float = SERVER_START_SECONDS) -> bool:
        """Wait until it listens and ``/healthz`` says the model is loaded; False if it exited."""
        deadline = time.monotonic() + timeout
        self._listening.wait(timeout)
        while self.port is not None and self.proc.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "healthz", timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass  # 503 while loading, or not accepting yet
            time.sleep(0.2)
        return False

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """Vanish without a close frame, as a crashed server or a dropped network does."""
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def serve(tmp_path_factory) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers on a private copy of the demo model (training rewrites model/demo)."""
    from model.loading import DEMO_MODEL_DIR

    if not (DEMO_MODEL_DIR / "config.json").is_file():
        pytest.fail(f"no demo model in {DEMO_MODEL_DIR}; train it first: python -m training.train")
    folder = tmp_path_factory.mktemp("demo") / "model"
    servers: list[ServerProcess] = []

    def start(*options: str) -> ServerProcess:
        for attempt in range(COPY_ATTEMPTS):
            if attempt or not folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
                shutil.copytree(DEMO_MODEL_DIR, folder)
            server = ServerProcess(folder, *options)
            servers.append(server)
            if server.wait_ready():
                return server
            server.stop()
            time.sleep(2)
        raise RuntimeError(f"the server did not become ready; its log ends:\n{server.log_tail()}")

    yield start
    for server in servers:
        server.stop()


# ----- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> tuple[Path, float]:
    """The fake microphone: espeak-ng speech of SPOKEN as 16-bit PCM, and its length in seconds."""
    audio, _ = speech_with_pauses(SPOKEN, lead=LEAD_SECONDS, tail=TAIL_SECONDS)
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
    return path, len(audio) / SAMPLE_RATE


@pytest.fixture(scope="module")
def playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright: pip install playwright (no `playwright install` needed)")
    if not CHROMIUM.is_file():
        pytest.fail(f"the browser tests need Debian's Chromium at {CHROMIUM}: apt-get install -y chromium")
    with sync_playwright() as p:
        yield p


@pytest.fixture
def open_page(playwright, speech_wav, tmp_path):
    """Launch Chromium with a fresh profile and the fake microphone; return a page at ``url``."""
    contexts = []

    def open_(url: str, microphone: str = "allow", wav: Path | None = None):
        wav = wav or speech_wav[0]
        # The fake permission prompt accepts; with "=deny" it refuses, as a person clicking Block does.
        fake_ui = "--use-fake-ui-for-media-stream" + ("=deny" if microphone == "deny" else "")
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / f"profile-{len(contexts)}"),
            executable_path=str(CHROMIUM),
            headless=True,
            viewport=VIEWPORT,
            args=[
                fake_ui,
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={wav}",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        contexts.append(context)
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.errors = []  # uncaught exceptions in the page fail the test that saw them
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.goto(url)
        page.wait_for_selector("#status-text:has-text('Ready')")
        return page

    yield open_
    for context in contexts:
        context.close()


def wait_for_state(page, state: str, timeout: float = UI_TIMEOUT_MS) -> None:
    page.wait_for_selector(f"body[data-state='{state}']", timeout=timeout, state="attached")


def captions(page) -> str:
    """The finals on screen, without their times."""
    return " ".join(page.locator("#finals .text").all_inner_texts())


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


# How far the page is into "mid-caption": 2 = two finals and a partial with settled words and an
# unsettled tail, 1 = two finals and a partial's unsettled tail, 0 = neither.
MID_CAPTION = """() => {
    const finals = document.querySelectorAll('#finals li').length >= 2;
    const settled = document.querySelector('#partial .stable').textContent.trim() !== '';
    const unsettled = document.querySelector('#partial .unstable').textContent.trim() !== '';
    return finals && unsettled ? (settled ? 2 : 1) : 0;
}"""


def screenshot_mid_caption(page, until: float) -> None:
    """Save the best mid-caption moment before ``until`` (the picture in the docs); a slow server may have none."""
    best = -1
    while best < 2 and time.monotonic() < until:
        score = page.evaluate(MID_CAPTION)
        if score > best:
            screenshot(page, "browser-mid-caption.png")
            best = score
        time.sleep(0.03)


# ----- tests -----------------------------------------------------------------------------------


def test_page_captions_spoken_words(serve, open_page, speech_wav):
    """Start by keyboard, speak three sentences into the fake microphone, Stop: the captions read them."""
    server = serve()
    _, duration = speech_wav
    page = open_page(server.url)

    page.focus("#start")
    page.keyboard.press("Enter")
    started = time.monotonic()
    wait_for_state(page, "listening")
    connect_seconds = time.monotonic() - started
    assert connect_seconds < LEAD_SECONDS, f"the page took {connect_seconds:.2f} s to connect: speech was cut off"

    # The partial's tail that may still change is shown unsettled: dimmed and italic.
    page.wait_for_function("document.querySelector('#partial .unstable').textContent.trim() !== ''")
    tail_style = page.eval_on_selector("#partial .unstable", "e => getComputedStyle(e).fontStyle")
    assert tail_style == "italic"

    stop_at = started + duration - TAIL_SECONDS + STOP_INTO_TAIL
    screenshot_mid_caption(page, until=stop_at)
    time.sleep(max(0.0, stop_at - time.monotonic()))
    assert page.evaluate("document.activeElement.id") == "stop", "keyboard focus should move from Start to Stop"
    page.keyboard.press("Enter")
    wait_for_state(page, "stopped", STOP_TIMEOUT_MS)
    elapsed = time.monotonic() - started

    spoken, shown = " ".join(SPOKEN), captions(page)
    rate = cer([spoken.upper()], [shown.upper()])
    screenshot(page, "browser-final.png")
    print(
        f"\nbrowser captions: CER {rate:.1%}, Start to stopped {elapsed:.1f} s\n  spoken: {spoken}\n  shown:  {shown}"
    )
    times = page.locator("#finals time").all_inner_texts()  # mm:ss since Start
    assert all(re.fullmatch(r"\d\d:\d\d", t) for t in times) and times == sorted(times), times
    assert page.locator("#partial").is_hidden(), "after Stop every word is final"

    # The transcript downloads as subtitles built from the finals' word timings.
    finals = page.locator("#finals .text").all_inner_texts()
    for fmt, first_line in (("srt", "1"), ("vtt", "WEBVTT")):
        page.select_option("#format", fmt)
        with page.expect_download() as download:
            page.click("#download")
        text = Path(download.value.path()).read_text()
        assert text.splitlines()[0] == first_line
        cue_text = [line for line in text.splitlines() if line and "-->" not in line and line != first_line]
        assert " ".join(w for line in cue_text if not line.isdigit() for w in line.split()) == " ".join(finals)
        cue_times = [float(t.replace(",", ".").split(":")[-1]) + 60 * int(t.split(":")[1])
                     for t in re.findall(r"\d\d:\d\d:\d\d[,.]\d\d\d", text)]  # fmt: skip
        assert cue_times == sorted(cue_times) and cue_times[-1] <= duration, "cues run forward within the audio"

    # Copy puts the plain-text transcript, one timed line per final, on the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.select_option("#format", "txt")
    page.click("#copy")
    page.wait_for_selector("#notice:has-text('Copied')")
    copied = page.evaluate("navigator.clipboard.readText()").splitlines()
    assert copied == [f"[{t}] {f}" for t, f in zip(times, finals, strict=True)]

    # Large captions for a room: a toggle that says whether it is on; Escape leaves it.
    page.click("#large")
    assert page.get_attribute("#large", "aria-pressed") == "true"
    assert page.eval_on_selector("#finals .text", "e => parseFloat(getComputedStyle(e).fontSize)") >= 40
    screenshot(page, "browser-large.png")
    page.keyboard.press("Escape")
    assert page.get_attribute("#large", "aria-pressed") == "false"
    assert not page.errors, page.errors

    assert rate <= MAX_CER, f"CER {rate:.1%} > {MAX_CER:.0%}\n  spoken: {spoken}\n  shown:  {shown}"


# A name the demo model misspells when it decodes greedily ("REV INDRAY", "REAVINDRAY") and spells
# right as a hotword: checked offline first (espeak-ng through 48 kHz, the streaming recognizer, six
# starting phases of its windows: right as a hotword in 12 of 12 streams, greedily in none). MORITZ,
# in the field too, is not spoken, and appeared in none of those streams.
NAMED = ("the report from ravindra is ready", "the letter from ravindra arrived")
NAME = "RAVINDRA"


def test_page_spells_words_to_expect_right(serve, open_page, tmp_path):
    """A name the captions misspell comes out right once it is in "Words to expect", which the page keeps."""
    audio, _ = speech_with_pauses(NAMED, lead=LEAD_SECONDS, tail=TAIL_SECONDS)
    wav = tmp_path / "names.wav"
    sf.write(wav, audio, SAMPLE_RATE, subtype="PCM_16")
    duration = len(audio) / SAMPLE_RATE
    server = serve()
    page = open_page(server.url, wav=wav)

    def caption_once() -> list[str]:
        page.click("#start")
        started = time.monotonic()
        wait_for_state(page, "listening")
        time.sleep(max(0.0, started + duration - TAIL_SECONDS + STOP_INTO_TAIL - time.monotonic()))
        page.click("#stop")
        wait_for_state(page, "stopped", STOP_TIMEOUT_MS)
        shown = captions(page).upper().split()
        page.click("#clear")
        return shown

    plain = caption_once()
    assert plain and NAME not in plain, plain  # what the field is there for
    page.click("#words-box summary")
    words = "Moritz = maw ritz / mo ritz,\nRavindra"  # a sounds-like spelling the server must take (else 1007)
    page.fill("#words", words)
    page.reload()  # the words are kept in the browser
    page.wait_for_selector("#status-text:has-text('Ready')")
    assert page.input_value("#words") == words
    assert page.locator("#words-box").get_attribute("open") is not None
    expected = caption_once()
    print(f"\nwithout words to expect: {' '.join(plain)}\nwith them:               {' '.join(expected)}")
    assert expected.count(NAME) == 2, expected
    assert not page.errors, page.errors


def test_page_explains_full_server_and_retries(serve, open_page):
    """At --max-sessions 1 with the slot taken, the page says the server is full; Retry works once it frees."""
    from websockets.sync.client import connect

    server = serve("--max-sessions", "1")
    page = open_page(server.url)
    with connect(f"ws://127.0.0.1:{server.port}/v1/stream"):  # another listener holds the only slot
        page.click("#start")
        wait_for_state(page, "error")
        assert "server is full" in page.inner_text("#problem-text")
        assert page.evaluate("document.activeElement.id") == "retry"
    screenshot(page, "browser-full.png")
    time.sleep(0.5)  # the slot is free once the server has seen the TCP connection go
    page.keyboard.press("Enter")  # Retry has the focus
    wait_for_state(page, "listening")
    assert page.locator("#problem").is_hidden()
    page.click("#stop")
    wait_for_state(page, "stopped", STOP_TIMEOUT_MS)
    assert not page.errors, page.errors


def test_page_asks_for_token_and_sends_it(serve, open_page):
    """Against a server with --token, the page asks for it, then sends it in its first message and captions."""
    server = serve("--token", "page-test-token")
    page = open_page(server.url)
    page.click("#start")
    wait_for_state(page, "error")
    assert "needs a token" in page.inner_text("#problem-text")
    assert page.evaluate("document.activeElement.id") == "token", "the token field opens, focused"
    page.keyboard.type("page-test-token")
    page.keyboard.press("Enter")  # retries
    wait_for_state(page, "listening")
    page.click("#stop")
    wait_for_state(page, "stopped", STOP_TIMEOUT_MS)
    assert not page.errors, page.errors


def test_page_explains_lost_connection(serve, open_page):
    """When the server vanishes mid-session for good, the page says it is reconnecting, gives up
    after its tries, says the connection was lost and offers Retry."""
    server = serve()
    page = open_page(server.url)
    page.click("#start")
    wait_for_state(page, "listening")
    server.kill()
    wait_for_state(page, "reconnecting")
    assert "Reconnecting" in page.inner_text("#status[role='status']")  # a live region: announced
    assert page.locator("#problem").is_hidden()
    lost = time.monotonic()
    wait_for_state(page, "error", GIVE_UP_MS)
    gave_up = time.monotonic() - lost
    assert "connection to the server was lost" in page.inner_text("#problem-text")
    assert "10 tries to reconnect" in page.inner_text("#problem-text")
    assert 10 <= gave_up <= 30, f"the page gave up after {gave_up:.1f} s, not within its 12-24 s of tries"
    assert page.locator("#retry").is_visible()
    screenshot(page, "browser-lost.png")
    page.click("#retry")  # nothing listens there now
    page.wait_for_selector("#problem-text:has-text('cannot be reached')")
    assert not page.errors, page.errors


def test_page_explains_denied_microphone(serve, open_page):
    """When the browser denies the microphone the page says so and does not connect."""
    server = serve()
    page = open_page(server.url, microphone="deny")
    page.click("#start")
    wait_for_state(page, "error")
    assert "Microphone access was denied" in page.inner_text("#problem-text")
    assert page.locator("#retry").is_visible()
    assert not page.errors, page.errors


class HostRewritingProxy(socketserver.ThreadingTCPServer):
    """A TCP proxy that sends the backend's own address as Host, like nginx's default ``$proxy_host``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, backend_port: int) -> None:
        self.backend = ("127.0.0.1", backend_port)
        super().__init__(("127.0.0.1", 0), _ProxyConnection)
        self.port = self.server_address[1]


class _ProxyConnection(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            head += chunk
        host = f"Host: {self.server.backend[0]}:{self.server.backend[1]}".encode()
        head = re.sub(rb"(?im)^Host:[^\r\n]*", host, head, count=1)
        with socket.create_connection(self.server.backend) as backend:
            backend.sendall(head)
            threading.Thread(target=_pipe, args=(backend, self.request), daemon=True).start()
            _pipe(self.request, backend)


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)


def test_page_explains_refused_origin_behind_proxy(serve, open_page):
    """Behind a proxy that rewrites Host, the server refuses the page's origin; the page says how to fix it."""
    server = serve()
    proxy = HostRewritingProxy(server.port)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        page = open_page(f"http://127.0.0.1:{proxy.port}/")
        page.click("#start")
        wait_for_state(page, "error")
        text = page.inner_text("#problem-text")
        assert "origin" in text and "proxy_set_header Host" in text
        screenshot(page, "browser-origin.png")
        assert not page.errors, page.errors
    finally:
        proxy.shutdown()
        proxy.server_close()


# ----- resume ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_speech_wav(tmp_path_factory) -> tuple[Path, float, float]:
    """All of SENTENCES (about 20 s): the wav, its length and when its last word ends, in seconds."""
    audio, spans = speech_with_pauses(SENTENCES, lead=LEAD_SECONDS, tail=RESUME_TAIL_SECONDS)
    path = tmp_path_factory.mktemp("audio") / "long-speech.wav"
    sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
    return path, len(audio) / SAMPLE_RATE, spans[-1][1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def caption_run(page, last_word: float, during: Callable[[], None] = lambda: None) -> tuple[list[str], list[float]]:
    """Start, run ``during``, press Stop a second after the last word (or once the page listens again, if
    later): the finals' texts and start times (seconds) on screen."""
    page.click("#start")
    started = time.monotonic()
    wait_for_state(page, "listening")
    during()
    wait_for_state(page, "listening", UI_TIMEOUT_MS)  # after a failover: the stream goes on
    time.sleep(max(0.0, started + last_word + STOP_INTO_TAIL - time.monotonic()))
    page.click("#stop")
    wait_for_state(page, "stopped", STOP_TIMEOUT_MS)
    texts = page.locator("#finals .text").all_inner_texts()
    starts = [float(t[2:-1]) for t in page.eval_on_selector_all("#finals time", "ts => ts.map(t => t.dateTime)")]
    return texts, starts


def test_page_resumes_through_server_restarts(serve, open_page, long_speech_wav):
    """Five sentences into the page while its server is SIGKILLed mid-speech (and a new one started
    on its port), then stopped with SIGTERM (1012) and started again: the page says it is
    reconnecting, resumes each time, and its captions are an uninterrupted run's line for line,
    word for word (no final twice, no word lost or doubled), at most 4% of characters less
    accurate (RESUME_MAX_CER), times running on; it ends stopped, as normal."""
    wav, _, last_word = long_speech_wav
    port = free_port()
    servers = [serve("--port", str(port))]

    reference, _ = caption_run(open_page(servers[0].url, wav=wav), last_word)
    page = open_page(servers[0].url, wav=wav)
    statuses: list[str] = []

    def fail_over(sig: signal.Signals, finals: int) -> None:
        """Once ``finals`` lines are shown and the next sentence is being captioned, end the server
        with ``sig`` and start another on its port."""
        page.wait_for_function(
            f"""document.querySelectorAll('#finals li').length >= {finals}
                && document.querySelector('#partial .stable').textContent.trim() !== ''""",
            timeout=UI_TIMEOUT_MS,
        )
        servers[-1].kill() if sig == signal.SIGKILL else servers[-1].stop()
        wait_for_state(page, "reconnecting")
        statuses.append(page.inner_text("#status[role='status']"))
        servers.append(serve("--port", str(port)))
        wait_for_state(page, "listening", UI_TIMEOUT_MS)

    def failovers() -> None:
        fail_over(signal.SIGKILL, 1)  # in the second sentence
        fail_over(signal.SIGTERM, 3)  # in the fourth

    texts, starts = caption_run(page, last_word, failovers)
    screenshot(page, "browser-resumed.png")
    spoken = " ".join(SENTENCES)
    rate, baseline = cer([spoken], [" ".join(texts)]), cer([spoken], [" ".join(reference)])
    between = cer([" ".join(reference)], [" ".join(texts)])
    detail = "\n".join(f"  {a} | {b}" for a, b in zip(reference, texts)) + f"\n{servers[1].log_tail(5)}"
    print(
        f"\nCER against the spoken text: resumed {rate:.1%}, uninterrupted {baseline:.1%}; "
        f"between the two runs {between:.1%}\n{detail}"
    )
    assert all("Reconnecting" in s for s in statuses), statuses
    assert page.locator("#problem").is_hidden(), page.inner_text("#problem-text")
    assert page.inner_text("#status-text").startswith("Stopped")
    assert len(texts) == len(reference), f"{len(texts)} finals, not {len(reference)}: one doubled or lost\n{detail}"
    assert [len(t.split()) for t in texts] == [len(r.split()) for r in reference], f"a word lost or doubled\n{detail}"
    assert starts == sorted(set(starts)), f"times do not run on: {starts}"
    assert rate <= baseline + RESUME_MAX_CER, f"CER {rate:.1%} > {baseline:.1%} + {RESUME_MAX_CER:.0%}\n{detail}"
    assert not page.errors, page.errors
