#!/bin/sh
# Runs chrooted in the fresh debootstrap rootfs, before it is imported as localhost/preau-base.
# Makes the rootfs a well-behaved container: systemd reaches "running" with no failed unit.
set -eu

# Units that fail or mean nothing in a container (no consoles, no real /, no kernel modules,
# no hardware clock). Masked, not removed, so a role can still see they exist.
for unit in \
    getty@.service serial-getty@.service console-getty.service getty.target \
    systemd-remount-fs.service systemd-modules-load.service kmod-static-nodes.service \
    systemd-udevd.service systemd-udev-trigger.service systemd-udev-settle.service \
    systemd-hwdb-update.service sys-kernel-config.mount sys-kernel-debug.mount \
    sys-kernel-tracing.mount sys-fs-fuse-connections.mount dev-hugepages.mount \
    systemd-firstboot.service systemd-sysusers.service systemd-binfmt.service \
    proc-sys-fs-binfmt_misc.automount systemd-pstore.service systemd-random-seed.service \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer
do
    ln -sf /dev/null "/etc/systemd/system/$unit"
done

# Package lists fresh and security fixes in (debootstrap only knows the release itself);
# the lists stay in the image so a role's apt task with cache_valid_time needs no download.
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get dist-upgrade -y -qq >/dev/null

# Lab hosts install with the same defaults as the images were built with: no recommends.
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    > /etc/apt/apt.conf.d/90preau-no-recommends

# French and English UTF-8 locales: the ENT and Samba speak French, tooling speaks English.
sed -i -E 's/^# *(fr_FR.UTF-8|en_US.UTF-8)/\1/' /etc/locale.gen
locale-gen >/dev/null
printf 'LANG=C.UTF-8\n' > /etc/default/locale

# Derived images install with `RUN preau-install PKG...`: no daemon starts during the build,
# and every unit the packages enable is disabled again, so services don't all start and fight
# in a lab host; the role that manages a service enables it.
cat > /usr/local/sbin/preau-install <<'SCRIPT'
#!/bin/sh
set -eu
# native units, and SysV scripts that have no unit (tftpd-hpa): their runlevel 3 start links
enabled() {
    systemctl list-unit-files --state=enabled --no-legend | awk '{print $1}'
    for link in /etc/rc3.d/S*; do [ -e "$link" ] && basename "$link" | sed 's/^S[0-9]*//'; done
    true
}
enabled_sorted() { enabled | sort -u; }
before=$(mktemp)
enabled_sorted > "$before"
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
new=$(enabled_sorted | comm -13 "$before" -)
if [ -n "$new" ]; then
    echo "preau-install: disabling $(echo $new)"
    # shellcheck disable=SC2086
    systemctl disable $new 2>/dev/null
fi
rm -f /usr/sbin/policy-rc.d "$before"
apt-get clean
SCRIPT
chmod 0755 /usr/local/sbin/preau-install

# Each container gets its own machine id at boot; podman provides hostname, hosts, resolv.conf.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id /etc/hostname
apt-get clean
rm -rf /var/log/*.log /var/cache/debconf/*-old /tmp/* /var/tmp/*
