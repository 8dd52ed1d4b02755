#!/usr/bin/env python3
"""The web_notifications example in a real browser: Debian's chromium, headless, driven by
selenium through chromium-driver. Opens tom's and ann's pages, triggers notifications through the
example's routes, and checks that each page shows its user's notifications and the system's, and
never another user's. Usage: web_notifications_test.py EXAMPLE [--screenshot PNG]"""
import subprocess
import sys
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main():
    example = sys.argv[1]
    screenshot = sys.argv[sys.argv.index("--screenshot") + 1] if "--screenshot" in sys.argv else None
    server = subprocess.Popen([example, "--port", "0"], stdout=subprocess.PIPE, text=True)
    driver = None
    try:
        line = server.stdout.readline()
        assert line.startswith("listening on "), line
        base = line.split()[-1]

        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=900,700"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        wait = WebDriverWait(driver, 20)

        def texts(list_id):
            return [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#%s li" % list_id)]

        def notify(route):
            with urllib.request.urlopen(base + route, timeout=10) as answer:
                assert answer.status == 200, route

        pages = {}
        for user in ("tom", "ann"):
            driver.switch_to.new_window("tab") if pages else None
            driver.get(base + "?user=" + user)
            wait.until(lambda d: d.find_element(By.ID, "status").text == "connected")
            pages[user] = driver.current_window_handle

        # ann's event first: the streams keep order, so once tom's arrived, ann's would have.
        notify("notify_user?to=ann&title=For-ann-only")
        notify("notify_user")
        notify("notify_system")

        driver.switch_to.window(pages["tom"])
        wait.until(lambda d: len(texts("user-list")) == 1 and len(texts("system-list")) == 1)
        assert "This is a user test" in texts("user-list")[0], texts("user-list")
        assert "This is a system test" in texts("system-list")[0], texts("system-list")
        assert "For-ann-only" not in driver.page_source
        notify("notify_user?title=Second")
        wait.until(lambda d: len(texts("user-list")) == 2)
        assert "Second" in texts("user-list")[1]
        if screenshot:
            driver.save_screenshot(screenshot)

        driver.switch_to.window(pages["ann"])
        wait.until(lambda d: len(texts("system-list")) == 1 and len(texts("user-list")) == 1)
        assert "For-ann-only" in texts("user-list")[0], texts("user-list")
        assert "This is a user test" not in driver.page_source and "Second" not in driver.page_source
        print("browser: tom saw 2 user and 1 system notifications, ann saw only hers and the system's")
    finally:
        if driver:
            driver.quit()
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
