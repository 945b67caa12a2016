/** The AWS account every test deployment lives in (the bundled example's and the rosters' `account`). */
export const ACCOUNT = '111111111111';
