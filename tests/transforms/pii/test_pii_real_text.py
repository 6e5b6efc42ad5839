"""PII where real text puts it (URLs, encodings, glued words, folded headers, bounce addresses, numbers
glued to letters), what is deliberately left, and prose that must stay as it is."""
from __future__ import annotations

import pytest

from pilewright.schemas.stages.pii import PIIConfig
from pilewright.transforms.pii.embedded import (
    classify_address,
    decoded_view,
    find_addresses,
    machine_local_part,
    public_domain,
)
from pilewright.transforms.pii.prescreen import Prescreen
from pilewright.transforms.pii.scan import PiiScanner


@pytest.fixture(scope="module")
def scanner() -> PiiScanner:
    return PiiScanner(PIIConfig())


# (text, what must be gone from it, what must still be there)
FOUND = [
    ("http://x.com/unsubscriber.asp?userid=vexmorran@aol.com&l=7", "vexmorran", "unsubscriber.asp?"),
    ("rl_login?email=3Dzorvath-ink@yahoo.com", "zorvath", "rl_login?"),
    ("x?u=tarquil.benn%40gmail.com&t=1", "tarquil", "&t=1"),
    ('href=3D"mailto:pellucid.ashe@hot=\nmail.com"', "pellucid", "href"),
    ("From: mb/ondrakovic@dcs.qmul.ac.uk", "ondrakovic", "From: mb/"),
    ('<a href="mailto:grisbane@btamail.net.cn">', "grisbane", "mailto:"),
    ("see #fenwrightly@outlook.com", "fenwrightly", "see "),
    ("<halvic.dorne@proton.me>", "halvic", "<"),
    ("Contactmirabel.quade@gmail.com", "mirabel", ""),
    ("mail saskvintor@aol.comWrite back", "saskvintor", "back"),
    ("mail 2002ulmarth@yahoo.co.uk2002", "ulmarth", "mail"),
    ("To: brisco.vantell@\n\tmail.com", "brisco", "To:"),
    ("To: brisco.vantell\n @mail.com", "brisco", "To:"),
    ("Errors-To: list-bounces--corvathyn=nyxmail.com@lists.example", "corvathyn", "Errors-To:"),
    ("<LISTMANAGER-949326-2002.08.30--dravenholt#spamassassin.taint.org@mail.ryanairmail.com>", "dravenholt", "<"),
    ("yelnickwarr&#64;gmail.com", "yelnickwarr", ""),
    ("sms 4155550147@vtext.com", "4155550147", "sms"),
    # numeric user names: CompuServe and T-Online addresses are not message ids outside an id header
    ("From: 76711.1234@compuserve.com", "76711", "From:"),
    ("Reply-To: 520061089980-0001@t-dialin.net", "520061089980", "Reply-To:"),
    ("Ph: 646-555-0173W", "646-555-0173", "W"),
    ("703-995-0407Fax", "703-995-0407", "Fax"),
    ("orders to1-415-873-2700", "873-2700", "to"),
    ("Tel(312) 555-0187", "555-0187", "Tel"),
    ("call 415.867.5309", "867.5309", "call"),
    ("appelez le 01.42.68.53.00", "68.53", "appelez"),
]


@pytest.mark.parametrize("text,value,kept", FOUND)
def test_values_in_real_text_contexts_are_redacted(scanner, text, value, kept):
    red = scanner.redact_text(text)
    assert value not in red.text and kept in red.text
    assert red.counts


# prose with phone-like, date-like, IP-like and version numbers: nothing to redact
PROSE = [
    "Version 4.01.03.27 of the driver fixes the bug.",
    "X-Mailer: Microsoft Outlook Express 5.00.2615.200",
    "ISBN 0-596-00712-4, second printing.",
    "released 2002-08-22 at 12:34:56, and again on 22.08.2002",
    "| year | units | revenue |\n| 2001 | 1,234,567 | 12 345 678 |\n| 2002 | 2,345,678 | 0.1234567 |",
    "build 20020822 1234 of release v2.3.4567890",
    "Total 4,155,550,147 shares traded.",
    "ID20020822123456abc was assigned.",
    "Message-ID: <200208221234.g7MBYrZ04811@dogma.slashnull.org>",
    "References: <3D9E1F20.3050300@eecs.berkeley.edu> <15735.50243.135743.32180@host.example.com>",
    "In-Reply-To: <76711.1234@compuserve.com>\nReferences: <a@b>\n <0803-2@dogma.slashnull.org>",
    "Delivered-To: zzzz@localhost",
]


@pytest.mark.parametrize("text", PROSE)
def test_prose_numbers_versions_dates_and_ids_are_left(scanner, text):
    red = scanner.redact_text(text)
    assert red.text == text and red.counts == {}


def test_what_is_left_is_counted_by_reason(scanner):
    text = ("Message-ID: <200208221234.g7MBYrZ04811@dogma.slashnull.org>\nTo: zzzz@localhost.localdomain\n"
            "From: maria@finmail.com\nX-Bounce: =@mx2.example.co.jp\nX-Mailer: Outlook Express 5.00.2615.200")
    red = scanner.redact_text(text)
    assert red.counts == {"EMAIL_ADDRESS": 1}
    assert red.left == {"EMAIL_ADDRESS": {"message_id": 1, "no_public_suffix": 1, "no_user_part": 1},
                        "PHONE_NUMBER": {"not_grouped_as_a_number": 1}}


def test_a_left_string_that_a_recognizer_redacted_is_not_counted_as_left(scanner):
    # the bounce address is found whole; its inner "x@lists.example" is not "left"
    red = scanner.redact_text("Errors-To: list-bounces--corvathyn=nyxmail.com@lists.example")
    assert red.left == {} and red.counts == {"EMAIL_ADDRESS": 1}


def test_decoded_view_maps_back_to_the_original():
    text = "u=tarquil%40gmail.com&e=3Dme@exam=\nple.com &#64;"
    view = decoded_view(text)
    assert view.text == "u=tarquil@gmail.com&e=me@example.com @"
    a = view.text.index("me@")
    assert text[slice(*view.span(a, a + len("me@example.com")))] == "me@exam=\nple.com"
    assert decoded_view("plain text, me@host.com") is None


def test_public_domain_trims_words_glued_to_the_suffix():
    assert public_domain("aol.com") == "aol.com"
    assert public_domain("aol.comWrite") == "aol.com"
    assert public_domain("yahoo.co.uk2002") == "yahoo.co.uk"
    assert public_domain("lists.example") is None
    assert public_domain("localhost.localdomain") is None


@pytest.mark.parametrize("local,machine", [
    ("200208221234.g7MBYrZ04811", True), ("3D9E1F20.3050300", True), ("15735.50243.135743.32180", True),
    ("john1985", False), ("honey9531", False), ("maria.lopez", False), ("4155550147", False),
    ("j2.smith3", False), ("JavaMail.root", False),
])
def test_machine_local_parts(local, machine):
    assert machine_local_part(local) is machine


def test_classify_address():
    assert classify_address("list-bounces--me", "host.com")[0] == "personal"
    assert classify_address("list-bounces--me=nyxmail.com", "lists.example")[0] == "bounce"
    assert classify_address("x--me#spamassassin.taint.org", "mail.ryanairmail.com")[0] == "bounce"
    assert classify_address("userid=jm", "netnoteinc.com") == ("personal", len("userid="), 0)
    assert classify_address("root", "localhost")[0] == "no_public_suffix"
    assert classify_address("=", "host.jp")[0] == "no_user_part"
    assert classify_address("200208221234.g7MBYrZ04811", "dogma.slashnull.org")[0] == "message_id"


def test_find_addresses_spans_cover_the_encoded_value():
    text = "go?u=tarquil.benn%40gmail.com&t=1"
    (addr,) = find_addresses(text)
    assert (text[addr.start : addr.end], addr.kind) == ("tarquil.benn%40gmail.com", "personal")


@pytest.mark.parametrize("text", ["a%40b.com", "a=40b.com", "a&#64;b.com", "a@\n\tb.com", "mailto:a@b.com"])
def test_the_prescreen_sees_encoded_and_folded_addresses(text):
    assert Prescreen(["EMAIL_ADDRESS"]).candidates(text)
