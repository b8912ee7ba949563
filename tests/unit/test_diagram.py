from preau.diagram import render_png, site_dot


def test_dot_has_every_vlan_and_the_uplink(dep):
    c = dep.colleges[0]
    dot = site_dot(dep, c)
    for v in dep.site_vlans(c):
        assert f"VLAN {v.vid} {v.name}" in dot
    assert c.circuit.cid in dot and c.router.name in dot
    # Many PCs are summarised, not drawn one by one.
    teaching = [d for d in c.devices if d.role == "pc" and d.interfaces[0].vlan == "teaching"]
    assert len(teaching) > 3 and f"+{len(teaching) - 2} pc" in dot


def test_png_is_rendered(dep, tmp_path):
    out = render_png(site_dot(dep, dep.colleges[1]), tmp_path / "c.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
