"""Short articles that clearly name one partner many times with Pakistan, shared by the bulk and
page tests of partners."""

JAPAN_TEXT = (
    "ISLAMABAD: Pakistan and Japan signed a new economic partnership agreement on Monday. The Japanese "
    "ambassador said Japan remains a key partner of Pakistan.\n\n"
    "Tokyo will fund new infrastructure projects in Pakistan, the Japanese embassy said, and trade between "
    "Pakistan and Japan grew.")
CHINA_TEXT = (
    "BEIJING: Pakistan and China pledged to expand CPEC as Chinese officials met Pakistani ministers in Beijing.\n\n"
    "China said it would finance new power plants in Pakistan, and Pakistan thanked China for its steadfast support.")
