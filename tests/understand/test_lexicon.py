"""The printed forms of the structure labels (service/understand/lexicon.py)."""
from __future__ import annotations

from service.understand.lexicon import can_print, lexicon, surfaces


def test_every_official_label_and_synonym_is_a_printed_form():
    lex = lexicon()
    assert lex["t3"]["五不予处理"] == {"t3.not_processed"}
    assert "t3.other_processing_fee_unpaid" in lex["t3"]["2申请人逾期未按收费通知要求缴纳费用行政机关不再处理其政府信息公开申请"]
    assert "t4.col.total" in lex["t4"]["合计"]  # configs/labels.yaml t4_columns
    assert "t4.litigation_direct" in lex["t4"]["直接起诉"]
    assert {"t2", "t3", "t4"} == set(lex)
    assert ("", "一总体情况") in surfaces()["sec.s1"]


def test_fragments_of_a_label_cut_across_lines_fit_only_their_own_label():
    # r013's table 3: （六）其他处理 printed as （六）其 | 他处理 beside the sub-items of the group
    assert can_print("t3.other_processing", "(六)其")
    assert can_print("t3.other_processing", "他处理")
    assert not can_print("t3.other_processing_fee_unpaid", "他处理")
    assert can_print("t3.not_processed", "予处理")
    assert not can_print("t3.not_processed_excessive_repeat", "予处理")
    assert can_print("t2.art20_1.normative_documents", "行政规范性文件")
    assert not can_print("t2.art20_8.admin_fees", "行政规范性文件")


def test_compound_forms_need_the_labels_own_words():
    # a sub-item printed after its group (（三）不予公开 1.属于国家秘密) is that sub-item; the group's words alone
    # are not
    assert can_print("t3.denied_state_secret", "(三)不予公开 1.属于国家秘密")
    assert can_print("t3.denied_state_secret", "不予公开1.属于")
    assert not can_print("t3.denied_state_secret", "(三)不予公开")
    assert can_print("t3.denied", "小计") and can_print("t3.col.legal_or_other_org", "法人或其他组织小计")
    assert not can_print("t3.granted", "小计")  # a group without sub-items has no subtotal row
    assert can_print("t4.litigation_after_review", "行政诉讼（复议后起诉）")
    assert not can_print("t4.litigation_after_review", "行政诉讼")
    assert can_print("t4.litigation", "行政诉讼")


def test_garbled_or_empty_text_fits_nothing():
    assert not can_print("t3.unable_needs_creation", "2.殳冇现戍倍息霈耍另亍制怍")
    assert not can_print("t3.granted", "")
    assert not can_print("no.such.label", "予以公开")
