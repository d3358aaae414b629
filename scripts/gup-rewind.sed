# Usage: sed -i -E -f scripts/gup-rewind.sed FILE...
# Rename the pin_user_pages*()/unpin_user_page*() calls of a GUP user to the v5.5 get/put API.
s/\bpin_user_pages(_fast_only|_fast|_remote|_unlocked|_locked)?\b/get_user_pages\1/g
s/\bunpin_user_pages_dirty_lock\b/put_user_pages_dirty_lock/g
s/\bunpin_user_pages\b/put_user_pages/g
s/\bunpin_user_page\b/put_user_page/g
