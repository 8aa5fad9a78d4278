from contact_center.privacy import mask_email, mask_name, mask_phone


def test_phone_keeps_country_and_last_two_digits() -> None:
    assert mask_phone("+79131234567") == "+7********67"
    assert "1234" not in mask_phone("89131234567")


def test_email_keeps_first_letter_and_domain() -> None:
    assert mask_email("ivanov@example.ru") == "i***@example.ru"
    assert mask_email("broken") == "***"


def test_name_becomes_initials() -> None:
    assert mask_name("Иванов Иван Иванович") == "И. И. И."
