"""The chat page in headless Chromium against a real ``diet-sparse serve`` (issue 28): chat,
buttons, images, the inspector, the token, corrections, saving and downloading.

Run them alone with ``pytest -m browser -s``: ``-s`` shows the page-load and one-turn times the
page measured (window.dietSparseTimings), logged, not asserted. Each test leaves a screenshot
in its tmp_path (and in $DIET_SPARSE_SCREENSHOTS if set).
"""

from __future__ import annotations

import time

import httpx
import pytest

pytestmark = pytest.mark.browser

selenium = pytest.importorskip("selenium", reason="selenium is in the test extra")
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as seen  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT = 30  # seconds the tests wait for the page to show something
GREETING = "Hi! How are you?"
# the fixture's rules: what the bot says after each intent (tests/fixtures/projects/chat_page)
ANSWERS = {"goodbye": "Bye!", "mood_great": "Great, carry on!", "mood_sad": "Here is something"}


class ChatPage:
    """The page in the browser, read and driven as a user would."""

    def __init__(self, driver, url: str) -> None:
        self.driver = driver
        self.url = url

    def open(self, token: str | None = None) -> ChatPage:
        """Loads the page with nothing kept from earlier tests (a new conversation, no token),
        and waits until it is ready, answering the token dialog if ``token`` is given."""
        self.driver.get(self.url)
        self.driver.execute_script("sessionStorage.clear()")
        self.driver.get(self.url)
        if token is not None:
            self.enter_token(token)
        self.wait_until(lambda _: self.driver.execute_script("return document.body.dataset.ready"))
        return self

    def wait_until(self, condition, message: str = ""):
        try:
            return WebDriverWait(self.driver, WAIT).until(condition)
        except TimeoutException:
            error = self.driver.find_element(By.ID, "chat-error").text
            raise AssertionError(f"{message} (page error: {error!r})") from None

    def find(self, selector: str):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def find_all(self, selector: str) -> list:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def texts(self, selector: str) -> list[str]:
        """The shown text of each element ``selector`` finds, read at once (the chat is drawn
        again after each answer: elements found earlier may be gone)."""
        script = "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText)"
        return [text.strip() for text in self.driver.execute_script(script, selector)]

    def enter_token(self, token: str) -> None:
        self.wait_until(seen.visibility_of_element_located((By.ID, "token-input")), "no token form")
        field = self.find("#token-input")
        field.clear()
        field.send_keys(token + Keys.ENTER)

    def timings(self) -> dict:
        return self.driver.execute_script("return window.dietSparseTimings")

    def say(self, text: str) -> None:
        """Types ``text``, presses Enter, and waits until its turn is in the inspector."""
        before = len(self.timings()["turns"])
        self.find("#message-input").send_keys(text + Keys.ENTER)
        self.wait_for_turns(before + 1, f"no answer to {text!r}")

    def wait_for_turns(self, count: int, message: str) -> None:
        self.wait_until(lambda _: len(self.timings()["turns"]) >= count, message)

    def wait_for_bot_text(self, text: str) -> None:
        self.wait_until(
            lambda _: any(text in shown for shown in self.texts("#messages .bubble.bot")),
            f"the bot did not say {text!r}; it said {self.texts('#messages .bubble.bot')}",
        )

    def log_timings(self, label: str) -> None:
        timings = self.timings()
        print(
            f"\n[{label}] page load {timings['pageLoadMs']:.1f} ms (navigation start to the end "
            f"of the load event), ready {timings['readyMs']:.1f} ms"
        )
        for turn in timings["turns"]:
            print(
                f"[{label}] turn {turn['message']!r}: answer shown {turn['answerMs']:.1f} ms, "
                f"in the inspector {turn['inspectorMs']:.1f} ms after sending"
            )


@pytest.fixture
def chat(driver, open_server, screenshot) -> ChatPage:
    return ChatPage(driver, open_server.url).open()


# --- the chat -----------------------------------------------------------------------------------


def test_a_typed_message_is_answered_with_the_bots_text(chat):
    sender = chat.find("#sender-id").text
    chat.say("hello")
    assert chat.texts("#messages .bubble.user") == ["hello"]
    chat.wait_for_bot_text(GREETING)
    assert chat.texts("#messages .bubble.bot .choice") == ["Great", "Not so good"]
    timings = chat.timings()
    assert timings["pageLoadMs"] > 0 and timings["turns"][0]["answerMs"] > 0
    chat.log_timings("open server")
    fetched = chat.driver.execute_script(
        "return performance.getEntriesByType('resource').map((entry) => entry.name)"
    )
    assert fetched and all(name.startswith((chat.url, "data:")) for name in fetched), fetched

    chat.find("#new-conversation").click()
    chat.wait_until(lambda _: chat.find("#sender-id").text != sender, "no new sender id")
    assert chat.find_all("#messages li") == []


def test_a_button_sends_its_payload_and_shows_its_title_then_an_image(chat):
    chat.say("hello")
    chat.wait_for_bot_text(GREETING)
    chat.driver.find_element(By.XPATH, "//button[text()='Not so good']").click()
    chat.wait_for_turns(2, "no answer to the button")
    assert chat.texts("#messages .bubble.user") == ["hello", "Not so good"]
    assert (
        chat.find_all("#messages .bubble.user")[-1].get_attribute("title") == "payload: /mood_sad"
    )
    chat.wait_for_bot_text("Here is something to cheer you up:")
    image = chat.find("#messages .bubble.bot img")
    assert image.get_attribute("src").startswith("data:image/png;base64,")
    chat.wait_until(
        lambda driver: driver.execute_script("return arguments[0].naturalWidth", image) == 16,
        "the image did not load",
    )


def test_the_inspector_shows_the_intent_the_entities_and_the_policy(chat, screenshot):
    chat.say("hello")
    chat.say("what is the weather in NYC")
    chat.wait_for_bot_text("It is sunny in New York.")
    assert '"unit": "celsius"' in chat.find("#messages .bubble.bot pre.custom").text
    assert chat.find("#intent-name").text == "ask_weather"  # the latest turn is selected
    assert chat.find(".intent-ranking li.top").get_attribute("data-name") == "ask_weather"
    entity = chat.find("#inspected-message mark.entity")
    assert (entity.text, entity.get_attribute("data-entity")) == ("NYC", "city")
    assert 'value: "New York"' in entity.get_attribute("title")  # the synonym's value
    actions = chat.find_all(".actions > li.action")
    assert [action.get_attribute("data-action") for action in actions][:2] == [
        "utter_weather",
        "utter_forecast",
    ]
    assert actions[0].find_element(By.CSS_SELECTOR, ".policy").text in {
        "rule",
        "memoization",
        "TED",
    }
    assert actions[0].find_elements(By.CSS_SELECTOR, ".action-scores li")
    size = chat.driver.get_window_size()
    chat.driver.set_window_size(1400, 1300)  # the whole inspector (docs/images/chat-page.png)
    screenshot("inspector")
    chat.driver.set_window_size(size["width"], size["height"])

    chat.find("#messages .bubble.user").click()  # the first turn
    chat.wait_until(lambda _: chat.find("#intent-name").text == "greet", "turn 1 not shown")
    assert "selected" in chat.find("#messages .bubble.user").get_attribute("class")
    chat.find("details.events summary").click()
    assert '"event": "user"' in chat.find("details.events pre").text
    chat.log_timings("inspector")


def test_what_the_slot_validation_said_stays_with_its_message(chat, open_server):
    """A domain's ``action_validate_slot_mappings`` speaks after the message with no action
    event of its own (as in Rasa): the chat, drawn again from the stored turns, keeps its
    message after the user's, and the inspector says who said it."""
    chat.say("hello")
    chat.wait_for_bot_text(GREETING)
    sender = chat.driver.execute_script("return sessionStorage.getItem('diet-sparse.sender')")
    url = f"{open_server.url}conversations/{sender}/tracker"
    events = httpx.get(url, timeout=10).json()["events"]
    events += [
        {"event": "user", "text": "/mood_great", "parse_data": {"intent": {"name": "mood_great"}}},
        {"event": "bot", "text": "Noted by the slot validation."},
        {"event": "action", "name": "action_listen"},
    ]
    httpx.put(f"{url}/events", json=events, timeout=10).raise_for_status()
    chat.driver.get(chat.url)  # the same tab: the same conversation, drawn from its turns
    chat.wait_until(lambda _: chat.driver.execute_script("return document.body.dataset.ready"))
    assert chat.texts("#messages .bubble")[-2:] == ["/mood_great", "Noted by the slot validation."]
    assert "action_validate_slot_mappings" in chat.find(".validation-messages").text


# --- the token ----------------------------------------------------------------------------------


def test_the_token_is_asked_once_and_a_wrong_one_asked_again(driver, secured_server, screenshot):
    chat = ChatPage(driver, secured_server.url)
    driver.get(secured_server.url)
    driver.execute_script("sessionStorage.clear()")
    driver.get(secured_server.url)  # the page itself needs no token
    chat.enter_token("not-the-token")
    chat.wait_until(
        lambda _: "refused" in chat.find("#token-message").text, "a wrong token not asked again"
    )
    chat.enter_token(secured_server.token)
    chat.wait_until(lambda _: driver.execute_script("return document.body.dataset.ready"))
    chat.say("hello")
    chat.wait_for_bot_text(GREETING)
    chat.say("/mood_great")
    chat.wait_for_bot_text(ANSWERS["mood_great"])
    assert not chat.find("#token-dialog").is_displayed()  # asked once
    assert chat.find("#intent-name").text == "mood_great"  # the inspector's calls had it too
    chat.log_timings("token")
    driver.refresh()  # the tab keeps the token and the conversation
    chat.wait_until(lambda _: driver.execute_script("return document.body.dataset.ready"))
    assert not chat.find("#token-dialog").is_displayed()
    assert chat.texts("#messages .bubble.user") == ["hello", "/mood_great"]


# --- interactive learning -----------------------------------------------------------------------


def correct_intent(chat: ChatPage, intent: str) -> None:
    Select(chat.find("#intent-choice")).select_by_value(intent)
    chat.find("#correct-intent").click()


def test_a_corrected_action_is_what_the_bot_does_then(chat):
    chat.say("hello")
    chat.wait_for_bot_text(GREETING)
    Select(chat.find("#action-choice-0")).select_by_value("utter_happy")
    chat.find(".actions > li.action .correct-action").click()
    chat.wait_for_bot_text(ANSWERS["mood_great"])
    shown = chat.texts("#messages .bubble.bot")
    assert not any(GREETING in text for text in shown), shown  # the greeting was taken back
    assert chat.find(".actions > li.action").get_attribute("data-action") == "utter_happy"


def test_an_entity_is_removed_and_added_by_selecting_its_text(chat):
    chat.say("weather in Lisbon")
    chat.wait_until(lambda _: chat.find_all("#inspected-message"), "no message inspected")
    for _ in chat.find_all("#inspected-message mark.entity"):
        chat.find(".remove-entity").click()
        chat.wait_until(lambda _: not chat.find_all(".remove-entity"), "entity not removed")
    assert chat.find_all("#inspected-message mark.entity") == []
    # select "Lisbon" in the message as a user's mouse would
    chat.driver.execute_script(
        """const text = document.querySelector('#inspected-message').firstChild;
        const range = document.createRange();
        range.setStart(text, 11); range.setEnd(text, 17);
        document.getSelection().removeAllRanges(); document.getSelection().addRange(range);"""
    )
    chat.wait_until(lambda _: "Lisbon" in chat.find("#selected-span").text, "no selection seen")
    Select(chat.find("#entity-type")).select_by_value("city")
    chat.find("#add-entity").click()
    chat.wait_until(
        lambda _: chat.texts("#inspected-message mark.entity") == ["Lisbon"], "entity not added"
    )
    assert chat.find("#inspected-message mark.entity").get_attribute("data-entity") == "city"


def test_a_corrected_conversation_saved_with_interactive_trains(
    driver, interactive_server, screenshot
):
    from diet_sparse.dialogue.bot import Bot
    from diet_sparse.persistence import load, load_policy
    from diet_sparse.project import train_project

    chat = ChatPage(driver, interactive_server.url).open()
    assert chat.find("#save-button").is_displayed()
    assert not chat.find("#download-button").is_displayed()
    chat.say("cheerio then")
    predicted = chat.find("#intent-name").text
    target = "goodbye" if predicted != "goodbye" else "mood_great"
    correct_intent(chat, target)
    chat.wait_for_bot_text(ANSWERS[target])
    assert chat.find("#intent-name").text == target
    assert "corrected" in chat.find("#messages .bubble.user").get_attribute("class")

    chat.find("#save-button").click()
    chat.wait_until(lambda _: chat.find_all("#saved-files li"), "nothing saved")
    written = chat.texts("#saved-files li")
    assert written and all(name.startswith("data/interactive/") for name in written)
    screenshot("saved")
    folder = interactive_server.folder
    assert all((folder / name).is_file() for name in written)
    text = "\n".join((folder / name).read_text(encoding="utf-8") for name in written)
    assert "cheerio then" in text and target in text

    started = time.monotonic()
    trained = train_project(folder, progress=False)  # data/interactive/ is part of data/
    print(f"\n[interactive] retrained with the saved YAML in {time.monotonic() - started:.1f} s")
    bot = Bot(load(trained.path), load_policy(trained.path))
    replies = bot.respond("cheerio then")
    assert any(ANSWERS[target] in (reply.get("text") or "") for reply in replies), replies


def test_without_interactive_the_yaml_is_offered_as_a_download(chat, downloads):
    assert chat.find("#download-button").is_displayed()
    assert not chat.find("#save-button").is_displayed()
    chat.say("hello")
    chat.find("#download-button").click()
    chat.wait_until(lambda _: chat.find_all("#downloaded"), "nothing downloaded")
    name = chat.find("#downloaded").text.removeprefix("Downloaded ").split(" (")[0]
    deadline = time.monotonic() + WAIT
    while not (downloads / name).is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    text = (downloads / name).read_text(encoding="utf-8")
    assert "nlu:" in text and "hello" in text and "stories:" in text

    chat.find("#story-details summary").click()  # the conversation as Rasa's test story
    chat.wait_until(lambda _: "utter_greet" in chat.texts("#story-text")[0], "no story shown")
    assert "- intent: greet" in chat.texts("#story-text")[0]
