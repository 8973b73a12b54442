package devpl

// CheckAnswer is checkAnswer, for the fuzz target.
var CheckAnswer = checkAnswer
