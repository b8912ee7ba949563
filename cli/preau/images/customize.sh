#!/bin/sh
# Runs chrooted in a freshly installed PC image, after the recipe's overlay was copied in
# (mmdebstrap's customize hook; PREAU_IMAGE is "<name> <recipe key>").
set -eu

# French locale and keyboard: the pupils' language; English stays for the tools' messages.
sed -i -E 's/^# *(fr_FR.UTF-8|en_US.UTF-8)/\1/' /etc/locale.gen
locale-gen >/dev/null
printf 'LANG=fr_FR.UTF-8\n' > /etc/default/locale
cat > /etc/default/keyboard <<'EOF'
XKBMODEL="pc105"
XKBLAYOUT="fr"
XKBVARIANT="latin9"
XKBOPTIONS=""
BACKSPACE="guess"
EOF

# Every PC booting the image is its own machine: systemd makes an id at boot.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
# Package lists are refreshed through the app server's apt proxy when a PC needs them.
rm -rf /var/lib/apt/lists/*
printf '%s\n' "$PREAU_IMAGE" > /etc/preau-image
printf 'Image %s\n\n' "$PREAU_IMAGE" >> /etc/issue

# PAM from the profiles the image holds: a recipe's own (preau-home makes the home mount
# required) replaces the package's optional one; sssd, when a recipe has it, is not asked for
# logins on a PC that holds no machine account.
if [ -f /usr/share/pam-configs/preau-home ]; then
    rm -f /usr/share/pam-configs/libpam-mount
fi
pam-auth-update --package
# names and ids of the collège's directory, installed at boot (preau-client-config)
if dpkg-query -W libnss-extrausers >/dev/null 2>&1; then
    sed -i -E 's/^(passwd|group|shadow):[[:space:]]+files.*/\1: files extrausers/' /etc/nsswitch.conf
fi
