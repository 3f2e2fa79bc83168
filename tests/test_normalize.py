from service.normalize import chinese_numeral, clean, label_key, parse_number


def test_radicals_and_fullwidth():
    # PDF text layers carry radical code points; NFKC alone leaves ⺠ (U+2EA0) and ⻔ (U+2ED4) alone
    assert clean("⼈⺠政府 ⻔户 １２３") == "人民政府 门户 123"


def test_invisible_and_whitespace():
    assert clean("\ufeff政府\u200b信息\u00a0 公开\n") == "政府信息 公开"


def test_label_key_ignores_punctuation_width_and_spaces():
    assert label_key("(二) 部分公开(区分处理的,只计这一情形,不计其他情形)") == label_key(
        "（二）部分公开（区分处理的，只计这一情形，不计其他情形）")


def test_blank_is_not_zero():
    assert parse_number("").status == "blank"
    assert parse_number("\u00a0").status == "blank"
    assert parse_number("0").value == 0 and parse_number("0").status == "value"


def test_not_applicable_marks():
    for raw in ("/", "—", "-", "不适用"):
        assert parse_number(raw).status == "not_applicable", raw


def test_units_notes_signs_decimals():
    p = parse_number("22（其中修订16件）")
    assert (p.value, p.note) == (22, "其中修订16件")
    p = parse_number("75394432.52元")
    assert (p.value, p.unit, p.decimals) == (75394432.52, "元", 2)
    assert parse_number("24252.311082").decimals == 6
    assert parse_number("-417").value == -417
    assert parse_number("+1036").value == 1036
    assert parse_number("１，２３４").value == 1234
    assert parse_number("12件").unit == "件"
    assert (parse_number("2笔").value, parse_number("2笔").unit) == (2, "笔")  # 政府集中采购 2笔 (a real report)


def test_text_is_not_a_number():
    assert parse_number("予以公开").status == "unparseable"
    assert parse_number("12abc").status == "unparseable"


def test_numeric_ocr_confusions_only_in_numeric_context():
    assert parse_number("1O").status == "unparseable"
    assert parse_number("1O", numeric_context=True).value == 10
    assert parse_number("〇", numeric_context=True).value == 0


def test_chinese_numerals():
    assert [chinese_numeral(x) for x in ("一", "六", "十", "十二", "二十", "二十三", "甲")] == [1, 6, 10, 12, 20, 23, None]
