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
