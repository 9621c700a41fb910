"""tools/check_limits.py: the module line limit, and exceptions that may only shrink."""

from tools.check_limits import module_problems


def test_it_flags_a_new_long_module():
    assert module_problems(400, {}, {"nephro/x.py": 401}) == [
        "nephro/x.py: 401 lines (limit 400); split it by concern"
    ]


def test_it_lets_a_listed_module_keep_its_size_but_not_grow():
    assert module_problems(400, {"nephro/x.py": 900}, {"nephro/x.py": 900}) == []
    assert (
        "more than its listed 900"
        in module_problems(400, {"nephro/x.py": 900}, {"nephro/x.py": 901})[0]
    )


def test_it_asks_to_shrink_or_delete_an_exception_the_module_no_longer_needs():
    assert "lower its exception" in module_problems(400, {"a.py": 900}, {"a.py": 800})[0]
    assert "delete its exception" in module_problems(400, {"a.py": 900}, {"a.py": 300})[0]
    assert "gone" in module_problems(400, {"a.py": 900}, {})[0]
